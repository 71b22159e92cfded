# tests/lab/os-api.sh — plain REST on the lab for OpenStack tests, to set the
# world up and to assert what ferry did through the API (source it after
# tests/lab/os-env.sh).  Tokens and passwords never reach argv: curl reads
# the token header from a process substitution, jq the password from its
# environment.
#
#   os_login CLOUD         token of a clouds.yaml entry into OS_TOK, and the
#                          endpoints OS_NEUTRON, OS_NOVA (no trailing slash)
#   os_get URL             GET; the body on stdout; fails on an HTTP error
#   os_req METHOD URL [JSON]   the body into the file $OS_BODY, the HTTP
#                          status on stdout
os_cloud_value() {
  python3 -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["clouds"][sys.argv[2]]
print(c["auth"][sys.argv[3]])' "$OS_CLIENT_CONFIG_FILE" "$1" "$2"
}

os_login() {
  local cloud=$1 body=$TMP/os-auth.json hdr=$TMP/os-auth.hdr code
  code=$(P=$(os_cloud_value "$cloud" password) jq -n \
    --arg u "$(os_cloud_value "$cloud" username)" \
    --arg pr "$(os_cloud_value "$cloud" project_name)" \
    --arg ud "$(os_cloud_value "$cloud" user_domain_name)" \
    --arg pd "$(os_cloud_value "$cloud" project_domain_name)" \
    '{auth:{identity:{methods:["password"],password:{user:{name:$u,domain:{name:$ud},password:$ENV.P}}},
      scope:{project:{name:$pr,domain:{name:$pd}}}}}' |
    curl -s -o "$body" -D "$hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary @- "$(os_cloud_value "$cloud" auth_url)/auth/tokens")
  [ "$code" = 201 ] || { echo "os_login $cloud: HTTP $code" >&2; return 1; }
  OS_TOK=$(awk 'tolower($1)=="x-subject-token:"{print $2}' "$hdr" | tr -d '\r')
  OS_NEUTRON=$(jq -r '.token.catalog[]|select(.type=="network").endpoints[]|select(.interface=="public").url' "$body" | sed 's:/*$::')
  OS_NOVA=$(jq -r '.token.catalog[]|select(.type=="compute").endpoints[]|select(.interface=="public").url' "$body" | sed 's:/*$::')
  OS_BODY=$TMP/os-body.json
}

os_get() {
  curl -sf -K <(printf 'header = "X-Auth-Token: %s"\n' "$OS_TOK") "$1"
}

os_req() {
  local method=$1 url=$2 data=${3-}
  if [ -n "$data" ]; then
    printf '%s' "$data" | curl -s -o "$OS_BODY" -w '%{http_code}' -X "$method" \
      -K <(printf 'header = "X-Auth-Token: %s"\n' "$OS_TOK") \
      -H 'Content-Type: application/json' --data-binary @- "$url"
  else
    curl -s -o "$OS_BODY" -w '%{http_code}' -X "$method" \
      -K <(printf 'header = "X-Auth-Token: %s"\n' "$OS_TOK") "$url"
  fi
}
