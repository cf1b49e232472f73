#!/bin/sh
echo a > "$TMP_OUTPUT_DIR/keep-1.txt"
echo b > "$TMP_OUTPUT_DIR/keep-2.csv"
echo c > "$TMP_OUTPUT_DIR/skip.txt"
