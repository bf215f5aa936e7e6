#!/bin/sh
# HAProxy external check: a DICOM C-ECHO (DCMTK echoscu) to the server being checked.
# HAProxy calls it with: <proxy_addr> <proxy_port> <server_addr> <server_port>; exit 0 = healthy.
exec echoscu -q -to 3 -ta 3 -td 3 -aec "${DEID_GW_AE:-DEIDGW}" -aet HAPROXY "$3" "$4"
