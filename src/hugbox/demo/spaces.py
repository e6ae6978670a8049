"""The demo spaces: a Gradio app calling the hub's Inference API and a Streamlit app charting a
demo dataset. Their files ship with hugbox (demo/space_apps/)."""

import shutil
from collections.abc import Callable
from pathlib import Path

APPS = Path(__file__).parent / "space_apps"
SIMILARITY_ID = "hugbox/sentence-similarity"
EXPLORER_ID = "hugbox/drug-reviews-explorer"


def _copier(folder: str) -> Callable[[Path, Path, Path], None]:
    def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
        del work_dir, wheels_dir  # nothing to download or convert
        shutil.copytree(APPS / folder, repo_dir, dirs_exist_ok=True)

    return build


build_similarity = _copier("sentence-similarity")
build_explorer = _copier("drug-reviews-explorer")
