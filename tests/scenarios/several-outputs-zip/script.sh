#!/bin/sh
mkdir -p "$TMP_OUTPUT_DIR/sub"
echo one > "$TMP_OUTPUT_DIR/a.txt"
echo two > "$TMP_OUTPUT_DIR/sub/b.txt"
