"""Likes and collections services on a real database: counts that cannot drift, slugs whose
id decides, item order, and the clean-up of a deleted repo that spares a newcomer's rows."""

from __future__ import annotations

import pytest
from builders import Builder
from sqlalchemy import select
from sqlalchemy.orm import Session

from hugbox.errors import Conflict, Forbidden, NotFound
from hugbox.social import collection_items as items
from hugbox.social import collections, likes
from hugbox.social.models import CollectionItem, RepoLike


def test_likes_are_counted_not_incremented(build: Builder, session: Session) -> None:
    alice, bob = build.user("alice"), build.user("bob")
    repo = build.repo(alice, "m")
    assert likes.like(session, repo=repo, user=bob) == 1
    assert likes.like(session, repo=repo, user=bob) == 1
    assert likes.like(session, repo=repo, user=alice) == 2
    repo.likes = 40  # a count gone wrong is set right by the next like or unlike
    session.flush()
    assert likes.unlike(session, repo=repo, user=alice) == 1
    assert likes.unlike(session, repo=repo, user=alice) == 1
    assert [u.name for u in likes.list_likers(session, repo=repo, offset=0, page_size=10)] == [
        "bob"
    ]


def test_a_deleted_repos_clean_up_spares_the_repo_that_took_its_id(
    build: Builder, session: Session
) -> None:
    alice = build.user("alice")
    repo = build.repo(alice, "m")
    likes.like(session, repo=repo, user=alice)
    likes.forget_deleted_repo(session, repo.pk)  # the repo is still there: nothing to forget
    items.forget_deleted_repo(session, repo.pk)
    assert session.scalars(select(RepoLike)).all() != []


def test_slugs_end_in_the_id_that_decides(build: Builder, session: Session) -> None:
    alice = build.user("alice")
    caller = build.caller(alice)
    made = collections.create_collection(
        session, caller=caller, title="My Cool  Stuff!", namespace=None
    )
    slug = collections.slug_of(made)
    assert slug == f"alice/my-cool-stuff-{made.object_id}" and len(made.object_id) == 24
    for other in (f"bob/whatever-{made.object_id}", f"alice/x-{made.object_id.upper()}"):
        assert collections.get_collection(session, caller=caller, slug=other) is made
    for bad in ("alice/my-cool-stuff", "alice/x-" + "0" * 24, "alice/x-" + "g" * 24):
        with pytest.raises(NotFound):
            collections.get_collection(session, caller=caller, slug=bad)
    with pytest.raises(Conflict):
        collections.create_collection(
            session, caller=caller, title="my cool  STUFF!", namespace=None
        )


def test_only_editors_change_and_private_ones_hide(build: Builder, session: Session) -> None:
    alice, bob = build.user("alice"), build.user("bob")
    made = collections.create_collection(
        session, caller=build.caller(alice), title="Secret", namespace=None, private=True
    )
    slug = collections.slug_of(made)
    with pytest.raises(NotFound):
        collections.get_collection(session, caller=build.caller(bob), slug=slug)
    collections.update_collection(session, collection=made, changes={"private": False})
    assert collections.get_collection(session, caller=build.caller(bob), slug=slug) is made
    with pytest.raises(Forbidden):
        collections.editable_collection(session, caller=build.caller(bob), slug=slug)


def test_items_move_and_close_up(build: Builder, session: Session) -> None:
    alice = build.user("alice")
    caller = build.caller(alice)
    made = collections.create_collection(session, caller=caller, title="Ordered", namespace=None)
    papers = ["2307.09288", "1706.03762", "1810.04805"]
    added = [
        items.add_item(session, caller=caller, collection=made, item_type="paper", item_id=p)
        for p in papers
    ]
    items.update_item(session, collection=made, object_id=added[0].object_id, position=1)
    shown = items.visible_items(session, caller=caller, collection=made)
    assert [v.item.target for v in shown] == [papers[1], papers[0], papers[2]]
    items.update_item(session, collection=made, object_id=added[2].object_id, position=99)
    items.delete_item(session, collection=made, object_id=added[1].object_id)
    order = session.scalars(select(CollectionItem).order_by(CollectionItem.position)).all()
    assert [(i.target, i.position) for i in order] == [(papers[0], 0), (papers[2], 1)]
