#!/bin/sh
# Re-render every example's main.tf from its workload.yaml with the embedded price snapshot.
set -eu
cd "$(dirname "$0")"
for spec in */workload.yaml; do
  dir=$(dirname "$spec")
  for cloud in aws gcp azure; do
    if llmplan generate --cloud "$cloud" --pricing snapshot "$spec" > "$dir/main.tf.tmp" 2> "$dir/err.tmp"; then
      mkdir -p "$dir/$cloud" && mv "$dir/main.tf.tmp" "$dir/$cloud/main.tf"
      grep '^plan:' "$dir/err.tmp" | sed "s|^|$dir/$cloud: |"
    else
      echo "$dir/$cloud: $(cat "$dir/err.tmp")"
      rm -f "$dir/main.tf.tmp"
    fi
    rm -f "$dir/err.tmp"
  done
done
