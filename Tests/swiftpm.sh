# Sourced by .ci/run and the test scripts: `swiftpm swift build ...` runs a
# SwiftPM command, and runs it again when SwiftPM itself died of SIGSEGV.
#
# On Linux, SwiftPM sometimes segfaults in libdispatch's event loop while it
# runs the kernel generator's build plugin, before anything of the package
# compiles (status 139). A crash in a test or a compiler is reported by
# SwiftPM as a failed command (status 1), so retrying 139 alone repeats only
# that crash. Three tries; any other status is final.
swiftpm() {
    local try status
    for try in 1 2 3; do
        status=0
        "$@" || status=$?
        [ "$status" -eq 139 ] || return "$status"
        echo "swiftpm.sh: SwiftPM died of SIGSEGV (try $try of 3): $*" >&2
    done
    return "$status"
}
