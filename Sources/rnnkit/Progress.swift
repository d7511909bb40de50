import Foundation

/// A live progress line on stderr: rewritten in place on a terminal, one line
/// every few seconds otherwise (logs, CI).
final class ProgressLine {
    private let interactive = isatty(STDERR_FILENO) != 0
    private var lastPrint = ContinuousClock.now
    private var printedAny = false
    private let quiet: Bool

    /// Quiet also on every MPI rank but the first.
    init(quiet: Bool = false) { self.quiet = quiet || !Processes.isLead }

    func update(_ text: String, force: Bool = false) {
        guard !quiet else { return }
        let now = ContinuousClock.now
        let interval: Duration = interactive ? .milliseconds(100) : .seconds(5)
        guard force || now - lastPrint >= interval || !printedAny else { return }
        lastPrint = now
        printedAny = true
        if interactive {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
        } else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }

    /// Ends the line so later output starts on a fresh one.
    func finish() {
        if interactive && printedAny && !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "?" }
    let total = Int(seconds.rounded())
    return total >= 3600
        ? String(format: "%d:%02d:%02d", total / 3600, total / 60 % 60, total % 60)
        : String(format: "%d:%02d", total / 60, total % 60)
}
