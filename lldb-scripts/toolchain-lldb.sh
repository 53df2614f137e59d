#!/usr/bin/env bash
# The Swift toolchain's own lldb (/opt/swift/usr/bin/lldb, lldb 21), which links libpython3.10: Debian 12 has
# only 3.11, so this finds a libpython3.10.so.1.0 where one is installed (pyenv's 3.10 on this machine kind) and
# runs lldb with it. Fails, saying so, when there is none: that lldb cannot start here.
set -u
toolchain_lldb=${TOOLCHAIN_LLDB:-$(dirname "$(readlink -f "$(command -v swift)")")/lldb}
[ -x "$toolchain_lldb" ] || { echo "toolchain-lldb.sh: no lldb beside swift ($toolchain_lldb)" >&2; exit 127; }
if ! ldd "$toolchain_lldb" 2>/dev/null | grep -q "libpython.*not found"; then exec "$toolchain_lldb" "$@"; fi
for lib in $(python3.10 -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))' 2>/dev/null) \
    ${PYENV_ROOT:-$HOME/.pyenv}/versions/3.10*/lib /root/.pyenv/versions/3.10*/lib /usr/local/lib /usr/lib/x86_64-linux-gnu; do
    if [ -e "$lib/libpython3.10.so.1.0" ]; then
        export LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export PYTHONHOME="$(dirname "$lib")"
        exec "$toolchain_lldb" "$@"
    fi
done
echo "toolchain-lldb.sh: $toolchain_lldb needs libpython3.10.so.1.0, and none is installed" >&2
exit 127
