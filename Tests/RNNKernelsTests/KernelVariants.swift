import Testing
@testable import RNNKernels

extension KernelSelection {
    /// Every instruction-set variant this machine runs, with specialized kernels.
    static var testedVariants: [KernelSelection] {
        runnableInstructionSets.map { KernelSelection(instructionSet: $0) }
    }
}

/// Runs each of a test's cases once per instruction-set variant this machine
/// runs, for tests whose arguments already say what they cover.
struct EveryKernelVariant: TestTrait, TestScoping {
    func provideScope(
        for test: Test, testCase: Test.Case?,
        performing function: @Sendable () async throws -> Void
    ) async throws {
        for kernels in KernelSelection.testedVariants {
            try await KernelSelection.with(kernels) { try await function() }
        }
    }
}

extension Trait where Self == EveryKernelVariant {
    static var everyKernelVariant: Self { EveryKernelVariant() }
}
