#!/bin/sh
# Installs libphonenumber for the identity command-line tools, from Debian packages only.
#
# Debian's libphonenumber-dev cannot be installed next to libboost1.81-dev: it depends on
# libboost-thread-dev, which pulls Boost 1.74 development headers that conflict with 1.81.
# The headers themselves do not need Boost (the library is used with its POSIX singleton), so
# we install the runtime and the header dependencies through apt and unpack the -dev package's
# files into a private prefix instead of registering it with dpkg.
#
# Idempotent; run as root after the project's apt packages. Prefix: $STOREGATE_DEPS_PREFIX,
# default /opt/storegate-deps. identity/CMakeLists.txt looks there first.
set -eu

prefix="${STOREGATE_DEPS_PREFIX:-/opt/storegate-deps}"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)"
runtime_dir="/usr/lib/${multiarch}"

if [ -f /usr/include/phonenumbers/phonenumberutil.h ] && [ -e "${runtime_dir}/libphonenumber.so" ]; then
    echo "phonenumber: libphonenumber-dev is installed system-wide; nothing to do"
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends libphonenumber8 libprotobuf-dev libabsl-dev \
        libicu-dev >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends libphonenumber8 libprotobuf-dev libabsl-dev \
        libicu-dev >/dev/null
fi

# The headers must match the runtime exactly (protobuf-generated code is version-locked).
version="$(dpkg-query -W -f='${Version}' libphonenumber8)"
stamp="${prefix}/libphonenumber-dev.version"
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${version}" ] &&
    [ -f "${prefix}/include/phonenumbers/phonenumberutil.h" ]; then
    echo "phonenumber: headers ${version} already in ${prefix}"
    exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
chmod 755 "${work}"
(cd "${work}" && apt-get download "libphonenumber-dev=${version}" >/dev/null 2>&1) ||
    (cd "${work}" && apt-get update >/dev/null && apt-get download "libphonenumber-dev=${version}")
dpkg-deb -x "${work}"/libphonenumber-dev_*.deb "${work}/root"

mkdir -p "${prefix}/include" "${prefix}/lib"
rm -rf "${prefix}/include/phonenumbers"
cp -a "${work}/root/usr/include/phonenumbers" "${prefix}/include/"
# Link against the shared runtime from libphonenumber8, never the static archive.
ln -sf "${runtime_dir}/libphonenumber.so.8" "${prefix}/lib/libphonenumber.so"
echo "${version}" >"${stamp}"
echo "phonenumber: installed headers ${version} into ${prefix}"
