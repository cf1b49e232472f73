#!/bin/sh
# A cowsay-like service: reads {"message": "..."} (or plain text) and draws it.
# Needs nothing but a POSIX shell and sed, so it runs anywhere.
MESSAGE=$(sed -n 's/.*"message"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' "$INPUT_FILE_PATH")
[ -n "$MESSAGE" ] || MESSAGE=$(cat "$INPUT_FILE_PATH")
LINE=$(printf '%s' "$MESSAGE" | sed 's/./-/g')
echo " -$LINE-"
echo "< $MESSAGE >"
echo " -$LINE-"
echo "        \\   ^__^"
echo "         \\  (oo)\\_______"
echo "            (__)\\       )\\/\\"
echo "                ||----w |"
echo "                ||     ||"
