#!/bin/sh
echo "got $INPUT_FILE_PATH as $INPUT_FILE_MIME"
case "$INPUT_FILE_PATH" in *.png) ;; *) echo "no .png extension" >&2; exit 9;; esac
[ "$INPUT_FILE_MIME" = image/png ] || exit 8
cp "$INPUT_FILE_PATH" "$TMP_OUTPUT_DIR/result.png"
