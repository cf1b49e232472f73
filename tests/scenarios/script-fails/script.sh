#!/bin/sh
echo "partial work"
echo "something broke" >&2
exit 3
