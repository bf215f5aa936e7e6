#!/usr/bin/env bash
# Writes a small private PKI for TLS tests into DIR with the openssl command line (openssl ca, so that
# validity periods in the past or future can be set):
#   ca.crt            the test CA;                      other-ca.crt  a second, unrelated CA
#   server.crt/.key   CN=localhost, SAN DNS:localhost + IP:127.0.0.1, signed by ca
#   client.crt/.key   CN=test-client, signed by ca;     other-client.crt/.key  signed by other-ca
#   expired.crt/.key  signed by ca, valid 2020-2021;    future.crt/.key  signed by ca, valid from 2099
#   other-server.crt/.key  as server, signed by other-ca; wrong-name.crt/.key  signed by ca for
#                     another host only (CN and SAN DNS:some-other-host)
# Keys are written mode 0600. Usage: make-test-pki.sh DIR
set -euo pipefail
dir=${1:?usage: make-test-pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

make_ca() {  # name subject
    mkdir -p "$1.db"
    : > "$1.db/index.txt"
    echo 1000 > "$1.db/serial"
    cat > "$1.cnf" <<CNF
[ca]
default_ca = ca_section
[ca_section]
dir = $PWD/$1.db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $PWD/$1.crt
private_key = $PWD/$1.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = copy
[policy_any]
commonName = supplied
[server_ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
[wrong_name_ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:some-other-host
[client_ext]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth, serverAuth
CNF
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 30 -subj "$2" \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null
}

issue() {  # ca name subject extension [startdate enddate]
    openssl req -newkey rsa:2048 -nodes -sha256 -subj "$3" -keyout "$2.key" -out "$2.csr" 2>/dev/null
    local dates=(-days 30)
    [ $# -ge 6 ] && dates=(-startdate "$5" -enddate "$6")
    openssl ca -batch -config "$1.cnf" -extensions "$4" "${dates[@]}" -notext \
        -in "$2.csr" -out "$2.crt" 2>/dev/null
    rm -f "$2.csr"
}

make_ca ca "/CN=Test CA"
make_ca other-ca "/CN=Other CA"
issue ca server "/CN=localhost" server_ext
issue ca client "/CN=test-client" client_ext
issue other-ca other-client "/CN=other-client" client_ext
issue other-ca other-server "/CN=localhost" server_ext
issue ca wrong-name "/CN=some-other-host" wrong_name_ext
issue ca expired "/CN=expired-client" client_ext 20200101000000Z 20210101000000Z
issue ca future "/CN=future-client" client_ext 20990101000000Z 20991231000000Z
chmod 600 ./*.key
chmod 644 ./*.crt
