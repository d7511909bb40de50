import Testing
@testable import RNNKernels

@Test func compiledWithFusedMultiplyAdd() {
    #if arch(x86_64) || arch(arm64)
    #expect(targetHasFMA)
    #endif
}
