# Orthanc from Debian's package, for the compose demo (docker/compose.yaml): the sending PACS and
# the research PACS. Its config comes from the compose file (a JSON file mounted read-only).
ARG BASE=debian:12
FROM ${BASE}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends orthanc \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o orthanc -g orthanc /var/lib/orthanc/db
USER orthanc
EXPOSE 4242 8042
ENTRYPOINT ["/usr/sbin/Orthanc"]
