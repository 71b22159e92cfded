#!/bin/sh
# Seeds for fuzz-clouds: clouds.yaml files of the shapes ferry reads.
set -e
d=$1
cat >"$d/password.yaml" <<'Y'
clouds:
  prod:
    auth: {auth_url: "http://127.0.0.1:5000/v3", username: u, password: p,
           project_name: pr, user_domain_name: Default, project_domain_name: Default}
    region_name: RegionOne
    interface: internal
    verify: false
    api_timeout: 30
Y
cat >"$d/appcred.yaml" <<'Y'
clouds:
  lab:
    auth_type: v3applicationcredential
    auth: {auth_url: "http://127.0.0.1:5000", application_credential_id: abc,
           application_credential_secret: s}
    cacert: /etc/ssl/ca.pem
Y
printf 'clouds: {prod: {auth: {auth_url: x}}, lab: []}\n' >"$d/odd.yaml"
