#!/bin/sh
ln -s /etc/hostname "$TMP_OUTPUT_DIR/elsewhere"
echo result > "$TMP_OUTPUT_DIR/result.txt"
