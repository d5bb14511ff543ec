#!/bin/bash
# Checks that every #include inside src/server/ points down the layer stack (docs/architecture.md):
# a file may include headers of its own layer and of the layers listed after it, never before it.
# main.c sits on top and may include anything. Run by ctest (check_layers) and by hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/src/server"
layers=(api realtime http view auth store domain util)
rank() {
  local i
  for i in "${!layers[@]}"; do
    [ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
  done
  echo -1
}
status=0
while IFS= read -r file; do
  own="${file%%/*}"
  [ "$own" = "$file" ] && continue               # main.c: the top, wires every layer
  own_rank=$(rank "$own")
  if [ "$own_rank" -lt 0 ]; then
    echo "$file: folder '$own' is not a layer in scripts/check-layers.sh"; status=1; continue
  fi
  while IFS= read -r inc; do
    target="${inc%%/*}"
    if [ "$target" = "$inc" ]; then
      echo "$file: #include \"$inc\" does not name its layer (write \"layer/$inc\")"; status=1; continue
    fi
    target_rank=$(rank "$target")
    if [ "$target_rank" -lt 0 ]; then
      echo "$file: #include \"$inc\" is not under a layer"; status=1
    elif [ "$target_rank" -lt "$own_rank" ]; then
      echo "$file: #include \"$inc\" points up ($own -> $target)"; status=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$file")
done < <(find . -name '*.[ch]' | sed 's|^\./||' | sort)
[ $status -eq 0 ] && echo "layers: every include in src/server points down (${layers[*]})"
exit $status
