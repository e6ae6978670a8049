"""Rules huggingface_hub's own test suite expects of a hub (tests/upstream/run.py found them).

Each test is one upstream expectation hugbox failed, driven through the real client.
"""

from __future__ import annotations

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, ModelCard
from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

from support import Hub, unique

pytestmark = pytest.mark.compat


@pytest.fixture
def api(hub: Hub) -> HfApi:
    return HfApi(endpoint=hub.endpoint, token=hub.alice)


def test_card_metadata_after_blank_lines_is_validated(api: HfApi) -> None:
    # huggingface_hub's parser skips blank lines before `---`; the hub's must read the same block.
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    readme = CommitOperationAdd("README.md", b"\n---\nmodel-index: foo\n---\n\nA card.\n")
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
        api.create_commit(repo_id, operations=[readme], commit_message="bad card")
    good = CommitOperationAdd("README.md", b"\n\n---\nlicense: mit\n---\n\nA card.\n")
    api.create_commit(repo_id, operations=[good], commit_message="good card")
    assert api.model_info(repo_id).card_data["license"] == "mit"


def test_card_with_one_dataset_as_a_string(api: HfApi) -> None:
    card = ModelCard("---\nlicense: mit\ndatasets: glue\n---\n\n# A model\n")
    card.validate()
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    card.push_to_hub(repo_id, token=api.token)
    info = api.model_info(repo_id)
    assert info.card_data["datasets"] == "glue"
    assert "dataset:glue" in (info.tags or [])


def test_deleting_a_folder_by_its_name_deletes_it(api: HfApi) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    adds = [CommitOperationAdd(p, b"data") for p in ("keep.txt", "1/a.txt", "1/2/b.txt")]
    api.create_commit(repo_id, operations=adds, commit_message="files")
    delete = CommitOperationDelete(path_in_repo="1")  # no trailing '/': HF still deletes the folder
    api.create_commit(repo_id, operations=[delete], commit_message="delete folder")
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "keep.txt"]


def test_tag_on_a_missing_revision_is_revision_not_found(api: HfApi) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    # The name is invalid too: HF answers for the revision first.
    with pytest.raises(RevisionNotFoundError):
        api.create_tag(repo_id, tag="invalid tag", revision="foobar")


def test_super_squash_history(api: HfApi) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    for content in (b"one", b"two"):
        api.upload_file(repo_id=repo_id, path_in_repo="file.txt", path_or_fileobj=content)
    api.create_branch(repo_id, branch="keep")
    api.super_squash_history(repo_id=repo_id)
    squashed = api.list_repo_commits(repo_id)
    assert [c.title for c in squashed] == ["Super-squash branch 'main' using huggingface_hub"]
    assert api.model_info(repo_id).sha == squashed[0].commit_id
    assert sorted(api.list_repo_files(repo_id)) == [".gitattributes", "file.txt"]
    assert len(api.list_repo_commits(repo_id, revision="keep")) == 3  # other refs keep history
    api.super_squash_history(repo_id=repo_id, branch="keep", commit_message="squashed")
    assert [c.title for c in api.list_repo_commits(repo_id, revision="keep")] == ["squashed"]
    with pytest.raises(RevisionNotFoundError):
        api.super_squash_history(repo_id=repo_id, branch="missing")


def test_super_squash_needs_write_access_and_a_write_token(hub: Hub, api: HfApi) -> None:
    repo_id = api.create_repo(f"alice/{unique()}").repo_id
    api.upload_file(repo_id=repo_id, path_in_repo="file.txt", path_or_fileobj=b"one")
    head = api.model_info(repo_id).sha
    for token in (hub.bob, hub.alice_read):  # a stranger; the owner's read token
        stranger = HfApi(endpoint=hub.endpoint, token=token)
        with pytest.raises(HfHubHTTPError) as refused:
            stranger.super_squash_history(repo_id=repo_id)
        assert refused.value.response.status_code == 403
    assert api.model_info(repo_id).sha == head
