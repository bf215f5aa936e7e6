# Install-time part of packaging/CMakeLists.txt: writes the systemd units and installs the default
# config with the paths of this install (CMAKE_INSTALL_PREFIX as given to cmake --install or cpack).
set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(_prefix STREQUAL "/usr")
  set(_confdir "/etc/deid-gateway")
else()
  set(_confdir "${_prefix}/etc/deid-gateway")
endif()
set(BINDIR "${_prefix}/${DEID_INSTALL_BINDIR}")
set(DOCDIR "${_prefix}/${DEID_INSTALL_DOCDIR}")
set(CONFDIR "${_confdir}")
# One folder per install destination, so concurrent installs (cmake --install and cpack) into
# different prefixes never overwrite each other's generated units.
string(SHA1 _key "$ENV{DESTDIR}|${_prefix}")
string(SUBSTRING "${_key}" 0 12 _key)
set(_out "${DEID_PACKAGING_BINARY_DIR}/units/${_key}")
foreach(unit deid-keystore.service deid-gateway.service)
  configure_file("${DEID_PACKAGING_SOURCE_DIR}/systemd/${unit}.in" "${_out}/${unit}" @ONLY)
endforeach()
file(INSTALL DESTINATION "${_prefix}/lib/systemd/system" TYPE FILE
     FILES "${_out}/deid-keystore.service" "${_out}/deid-gateway.service")
# The config is the operator's once installed: an existing file is left alone (the package's
# conffiles handling covers upgrades of the package).
foreach(conf gateway.json broker.json)
  if(EXISTS "$ENV{DESTDIR}${_confdir}/${conf}")
    message(STATUS "Keeping: $ENV{DESTDIR}${_confdir}/${conf}")
  else()
    file(INSTALL DESTINATION "${_confdir}" TYPE FILE FILES "${DEID_PACKAGING_SOURCE_DIR}/config/${conf}")
  endif()
endforeach()
