"""Charts of the hub's drug-reviews dataset: how drugs are rated, overall and per condition."""

import pandas as pd
import streamlit as st
from huggingface_hub import hf_hub_download

DATASET = "hugbox/drug-reviews"

st.set_page_config(page_title="Drug reviews explorer", page_icon="💊")
st.title("Drug reviews explorer")
st.caption(f"The `{DATASET}` dataset, downloaded from this hub with `hf_hub_download`.")


@st.cache_data(show_spinner="Downloading the dataset from the hub…")
def load(split: str) -> pd.DataFrame:
    path = hf_hub_download(DATASET, f"{split}.csv", repo_type="dataset")
    return pd.read_csv(path, usecols=["drugName", "condition", "review", "rating"])


split = st.radio("Split", ["test", "train"], horizontal=True)
reviews = load(split)
st.metric("Reviews", f"{len(reviews):,}")

st.subheader("Ratings")
st.bar_chart(reviews["rating"].value_counts().sort_index(), x_label="rating", y_label="reviews")

conditions = reviews["condition"].dropna().value_counts().head(20).index.tolist()
condition = st.selectbox("Condition", conditions)
chosen = reviews[reviews["condition"] == condition]
st.subheader(f"Best rated drugs for {condition}")
means = chosen.groupby("drugName")["rating"].agg(["mean", "count"])
best = means[means["count"] >= 5].sort_values("mean", ascending=False).head(15)
st.bar_chart(best["mean"], x_label="drug", y_label="mean rating")
st.dataframe(chosen[["drugName", "rating", "review"]].head(50), hide_index=True)
