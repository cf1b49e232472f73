#!/bin/sh
exec deepaas-run --listen-ip 0.0.0.0 --listen-port 5000
