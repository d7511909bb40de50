import CRNNSupport

/// A fixed-size, zero-initialised `Float` buffer aligned to a 64-byte cache line.
///
/// Kernels work on contiguous aligned storage allocated once per shape and
/// reused; this owner frees it when the last reference goes away.
public final class AlignedBuffer: @unchecked Sendable {
    public static let alignment = 64

    /// The first element. Valid for `count` elements while `self` is alive.
    public let baseAddress: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        precondition(count >= 0, "buffer size must not be negative")
        self.count = count
        // Round up to whole cache lines so vector tails never touch a neighbour.
        let bytes = max(1, (count * MemoryLayout<Float>.stride + Self.alignment - 1) / Self.alignment) * Self.alignment
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
        // A shard's workspace spans tens of MiB that every timestep visits
        // again: on 4 KiB pages the recurrent GEMMs miss the TLB (GRU medium
        // trains 2-4% faster on huge pages). Small buffers are left as they are.
        rnn_advise_huge_pages(raw, bytes)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        baseAddress = raw.bindMemory(to: Float.self, capacity: bytes / MemoryLayout<Float>.stride)
    }

    deinit { baseAddress.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: baseAddress, count: count)
    }

    public func zero() {
        baseAddress.update(repeating: 0, count: count)
    }
}
