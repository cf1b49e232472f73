#!/bin/sh
# A JSON body {"message": "..."} (the seeds' example) or plain text: the cow says it.
if jq -e 'type == "object" and has("message")' "$INPUT_FILE_PATH" >/dev/null 2>&1; then
    jq -r '.message' "$INPUT_FILE_PATH" | /usr/games/cowsay
else
    /usr/games/cowsay < "$INPUT_FILE_PATH"
fi
