"""Charts of the hub's drug-reviews dataset: how patients rate drugs (negative, neutral,
positive), overall and per condition."""

import pandas as pd
import streamlit as st
from huggingface_hub import hf_hub_download

DATASET = "hugbox/drug-reviews"
LABELS = ["negative", "neutral", "positive"]

st.set_page_config(page_title="Drug reviews explorer", page_icon="💊")
st.title("Drug reviews explorer")
st.caption(f"The `{DATASET}` dataset, downloaded from this hub with `hf_hub_download`.")


@st.cache_data(show_spinner="Downloading the dataset from the hub…")
def load(split: str) -> pd.DataFrame:
    path = hf_hub_download(DATASET, f"{split}.csv", repo_type="dataset")
    return pd.read_csv(path, usecols=["drugName", "condition", "review", "rating", "usefulCount"])


split = st.radio("Split", ["test", "train"], horizontal=True)
reviews = load(split)
st.metric("Reviews", f"{len(reviews):,}")

st.subheader("Ratings")
ratings = reviews["rating"].value_counts().reindex(LABELS, fill_value=0)
st.bar_chart(ratings, x_label="rating", y_label="reviews")

conditions = reviews["condition"].dropna().value_counts().head(20).index.tolist()
condition = st.selectbox("Condition", conditions)
chosen = reviews[reviews["condition"] == condition]
st.subheader(f"Drugs for {condition}: share of positive reviews")
positive = chosen.assign(positive=chosen["rating"].eq("positive"))
shares = positive.groupby("drugName")["positive"].agg(["mean", "count"])
best = shares[shares["count"] >= 2].sort_values("mean", ascending=False).head(15)
st.bar_chart(best["mean"], x_label="drug", y_label="share positive")
st.subheader("Most useful reviews")
useful = chosen.sort_values("usefulCount", ascending=False).head(20)
st.dataframe(useful[["drugName", "rating", "usefulCount", "review"]], hide_index=True)
