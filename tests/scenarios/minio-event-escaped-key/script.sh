#!/bin/sh
echo "key=$STORAGE_OBJECT_KEY time=$EVENT_TIME"
echo "file=$(basename "$INPUT_FILE_PATH")"
cat "$INPUT_FILE_PATH"
