@_exported import KernelInterface
#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
#if arch(x86_64)
    import KernelsAVX2
    import KernelsAVX512
    import KernelsBaseline
#elseif arch(arm64)
    import KernelsNEON
#endif

/// Which compiled kernels run: the instruction-set variant, and whether the
/// kernels generated for the layer's hidden size are used where there are any.
///
/// By default the best variant the CPU supports runs, with specialized
/// kernels. Two environment variables, read once, override that:
/// `RNNKIT_ISA=avx512|avx2|baseline|neon` forces a variant and
/// `RNNKIT_KERNELS=generic` forces the generic kernels. A value that names
/// nothing, or a variant this CPU cannot run, leaves the default in place and
/// is reported by `KernelSelection.environmentProblem`; RNNKit refuses to
/// create or load a model while there is one.
public struct KernelSelection: Sendable, Equatable, CustomStringConvertible {
    public var instructionSet: InstructionSet
    /// Whether kernels generated for a hidden size replace the generic ones.
    public var usesSpecializedKernels: Bool

    public init(instructionSet: InstructionSet, usesSpecializedKernels: Bool = true) {
        self.instructionSet = instructionSet
        self.usesSpecializedKernels = usesSpecializedKernels
    }

    /// The selection kernels run with: the environment's, or the default.
    public static var current: KernelSelection { scoped ?? environment.selection }

    /// The variants compiled into this binary that this CPU can run, best first.
    public static var runnableInstructionSets: [InstructionSet] {
        ProcessorFeatures.host.runnable(InstructionSet.allCases.filter { $0.backend != nil })
    }

    /// Whether this binary contains kernels for `instructionSet`.
    public static func isCompiled(_ instructionSet: InstructionSet) -> Bool { instructionSet.backend != nil }

    /// Why the environment's selection was not taken, or nil.
    public static var environmentProblem: String? { environment.problem }

    /// The hidden sizes the build generated specialized kernels for.
    public static var specializedHiddenSizes: [Int] { current.backend.specializedHiddenSizes }

    public var description: String {
        "\(instructionSet)\(usesSpecializedKernels ? "" : ", generic kernels only")"
    }

    var backend: any KernelBackend.Type { instructionSet.backend! }

    /// Runs `body` with `selection` for the kernels called from the current
    /// task; the kernels then run on that variant. Work handed to other
    /// threads keeps the process-wide selection: for tests and benchmarks of
    /// the kernels themselves.
    static func with<Result>(_ selection: KernelSelection, _ body: () throws -> Result) rethrows -> Result {
        try $scoped.withValue(selection.checkedRunnable(), operation: body)
    }

    static func with<Result>(_ selection: KernelSelection, _ body: () async throws -> Result) async rethrows -> Result {
        try await $scoped.withValue(selection.checkedRunnable(), operation: body)
    }

    private func checkedRunnable() -> KernelSelection {
        precondition(
            Self.runnableInstructionSets.contains(instructionSet), "KernelSelection: \(instructionSet) cannot run here")
        return self
    }

    @TaskLocal private static var scoped: KernelSelection?

    private static let environment = EnvironmentSelection(
        instructionSet: Environment.value("RNNKIT_ISA"), kernels: Environment.value("RNNKIT_KERNELS"))
}

/// The process-wide selection, resolved from the environment once.
private struct EnvironmentSelection {
    let selection: KernelSelection
    let problem: String?

    init(instructionSet requested: String?, kernels: String?) {
        let best = KernelSelection.runnableInstructionSets.first ?? .baseline
        var problems: [String] = []
        if KernelSelection.runnableInstructionSets.isEmpty {
            problems.append("this build has no kernels for this processor (RNNKit runs on x86-64 and arm64)")
        }
        var instructionSet = best
        if let requested, !requested.isEmpty {
            if let named = InstructionSet(rawValue: requested.lowercased()) {
                if KernelSelection.runnableInstructionSets.contains(named) {
                    instructionSet = named
                } else {
                    problems.append(
                        "RNNKIT_ISA=\(requested) asks for \(named), which "
                            + (named.backend == nil
                                ? "this build does not contain"
                                : "this CPU cannot run (it lacks "
                                    + "\(ProcessorFeatures.host.missing(for: named).joined(separator: ", ")))")
                            + "; runnable here: "
                            + "\(KernelSelection.runnableInstructionSets.map(\.rawValue).joined(separator: ", "))"
                    )
                }
            } else {
                problems.append(
                    "RNNKIT_ISA=\(requested) is not one of "
                        + InstructionSet.allCases.map(\.rawValue).joined(separator: ", "))
            }
        }
        var specialized = true
        switch kernels?.lowercased() {
        case nil, "", "specialized": break
        case "generic": specialized = false
        case let other?: problems.append("RNNKIT_KERNELS=\(other) is not 'generic' or 'specialized'")
        }
        selection = KernelSelection(instructionSet: instructionSet, usesSpecializedKernels: specialized)
        problem = problems.isEmpty ? nil : problems.joined(separator: "; ")
    }
}

extension InstructionSet {
    /// This variant's kernels, when this binary contains them.
    var backend: (any KernelBackend.Type)? {
        #if arch(x86_64)
            switch self {
            case .avx512: KernelsAVX512.Backend.self
            case .avx2: KernelsAVX2.Backend.self
            case .baseline: KernelsBaseline.Backend.self
            case .neon: nil
            }
        #elseif arch(arm64)
            self == .neon ? KernelsNEON.Backend.self : nil
        #else
            nil
        #endif
    }
}

private enum Environment {
    static func value(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
