import CRNNSupport

/// What the processor and its operating system provide, read from CPUID and
/// XCR0, and which kernel variants that admits.
///
/// A variant is admitted only when everything its `-march` level lets the
/// compiler use is present: the compiler may emit BMI2, MOVBE or LZCNT
/// anywhere in an `x86-64-v3` module, not only AVX2 and FMA, and AVX-512 BW,
/// DQ, VL or CD anywhere in an `x86-64-v4` one. A processor with part of a
/// level (a Knights Landing has AVX512F without BW/VL; some virtual machines
/// hide BMI2) would otherwise die of an illegal instruction. The operating
/// system must also save the wider registers (XCR0), or the first use of a
/// ymm or zmm register faults.
package struct ProcessorFeatures: Sendable {
    package let words: rnn_cpuid_words

    package init(_ words: rnn_cpuid_words) { self.words = words }

    /// The processor this program runs on.
    package static let host = ProcessorFeatures(rnn_read_cpuid())

    /// Whether code compiled for `instructionSet` can run here.
    package func supports(_ instructionSet: InstructionSet) -> Bool { missing(for: instructionSet).isEmpty }

    /// The features `instructionSet` needs that are absent, by name (for
    /// messages); empty when it can run.
    package func missing(for instructionSet: InstructionSet) -> [String] {
        guard instructionSet.architecture == Self.architecture else {
            return ["an \(instructionSet.architecture) processor"]
        }
        return Self.requirements(of: instructionSet).filter { !has($0) }.map(\.name)
    }

    /// Of `compiled`, the variants that can run here, in the same order.
    package func runnable(_ compiled: [InstructionSet]) -> [InstructionSet] { compiled.filter(supports) }

    #if arch(x86_64)
        private static let architecture = "x86-64"
    #elseif arch(arm64)
        private static let architecture = "arm64"
    #else
        private static let architecture = "other"
    #endif

    /// One CPUID or XCR0 bit.
    package struct Feature: Sendable {
        package enum Word: Sendable { case leaf1ECX, leaf7EBX, extended1ECX, xcr0 }
        package let name: String
        package let word: Word
        package let bit: Int
    }

    package func has(_ feature: Feature) -> Bool {
        let value: UInt64 =
            switch feature.word {
            case .leaf1ECX: UInt64(words.leaf1_ecx)
            case .leaf7EBX: UInt64(words.leaf7_ebx)
            case .extended1ECX: UInt64(words.extended1_ecx)
            case .xcr0: words.xcr0
            }
        return value >> UInt64(feature.bit) & 1 == 1
    }

    /// Everything a variant's `-march` level may use, cumulative
    /// (x86-64-v2 below v3 below v4), with the register states the OS must save.
    package static func requirements(of instructionSet: InstructionSet) -> [Feature] {
        switch instructionSet {
        case .baseline, .neon: []
        case .avx2: level2 + level3
        case .avx512: level2 + level3 + level4
        }
    }

    // The x86-64 psABI's micro-architecture levels, as clang's -march defines them.
    private static let level2: [Feature] = [
        Feature(name: "SSE3", word: .leaf1ECX, bit: 0),
        Feature(name: "SSSE3", word: .leaf1ECX, bit: 9),
        Feature(name: "CMPXCHG16B", word: .leaf1ECX, bit: 13),
        Feature(name: "SSE4.1", word: .leaf1ECX, bit: 19),
        Feature(name: "SSE4.2", word: .leaf1ECX, bit: 20),
        Feature(name: "POPCNT", word: .leaf1ECX, bit: 23),
        Feature(name: "LAHF/SAHF", word: .extended1ECX, bit: 0)
    ]
    private static let level3: [Feature] = [
        Feature(name: "FMA", word: .leaf1ECX, bit: 12),
        Feature(name: "MOVBE", word: .leaf1ECX, bit: 22),
        Feature(name: "XSAVE", word: .leaf1ECX, bit: 26),
        Feature(name: "OSXSAVE", word: .leaf1ECX, bit: 27),
        Feature(name: "AVX", word: .leaf1ECX, bit: 28),
        Feature(name: "F16C", word: .leaf1ECX, bit: 29),
        Feature(name: "BMI1", word: .leaf7EBX, bit: 3),
        Feature(name: "AVX2", word: .leaf7EBX, bit: 5),
        Feature(name: "BMI2", word: .leaf7EBX, bit: 8),
        Feature(name: "LZCNT", word: .extended1ECX, bit: 5),
        Feature(name: "OS support for SSE state (XCR0.SSE)", word: .xcr0, bit: 1),
        Feature(name: "OS support for AVX state (XCR0.AVX)", word: .xcr0, bit: 2)
    ]
    private static let level4: [Feature] = [
        Feature(name: "AVX512F", word: .leaf7EBX, bit: 16),
        Feature(name: "AVX512DQ", word: .leaf7EBX, bit: 17),
        Feature(name: "AVX512CD", word: .leaf7EBX, bit: 28),
        Feature(name: "AVX512BW", word: .leaf7EBX, bit: 30),
        Feature(name: "AVX512VL", word: .leaf7EBX, bit: 31),
        Feature(name: "OS support for opmask state (XCR0.opmask)", word: .xcr0, bit: 5),
        Feature(name: "OS support for zmm0-15 upper halves (XCR0.ZMM_Hi256)", word: .xcr0, bit: 6),
        Feature(name: "OS support for zmm16-31 (XCR0.Hi16_ZMM)", word: .xcr0, bit: 7)
    ]
}
