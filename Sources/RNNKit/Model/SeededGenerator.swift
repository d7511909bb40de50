import Foundation

/// A small, fast, seedable random number generator (xoshiro256**, seeded
/// through SplitMix64), so that initialisation, shuffling and sampling are
/// reproducible from a seed, and its state can be saved in a checkpoint.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= Self.golden
            return Self.mix(mixer)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    /// SplitMix64's increment: 2^64 over the golden ratio.
    static let golden: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// SplitMix64's finaliser: a bijection of 64-bit words whose output bits
    /// each depend on every input bit, so that consecutive counters give
    /// independent-looking words (counter-based random numbers).
    @inline(__always)
    static func mix(_ word: UInt64) -> UInt64 {
        var z = word
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Restores a generator from a saved `state`.
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = ((state.1 &* 5) << 7 | (state.1 &* 5) >> 57) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = state.3 << 45 | state.3 >> 19
        return result
    }

    /// A float uniform in `[low, high)`.
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) * 0x1p-24
    }

    /// A standard normal float (Box-Muller).
    public mutating func normal() -> Float {
        let u1 = max(Double(next() >> 11) * 0x1p-53, 1e-300)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    public static func == (lhs: SeededGenerator, rhs: SeededGenerator) -> Bool {
        lhs.state == rhs.state
    }
}
