import RNNKernels

/// The buffers a workspace allocates, described once: the workspace's
/// `init` allocates exactly what its plan lists, and the memory check
/// counts the same plan before anything is allocated.
///
/// Each entry is a role (the workspace's own key type), how many copies of
/// the buffer there are (one per layer or unit, say) and how many elements
/// each holds. Float buffers are `AlignedBuffer`s; the index and mask
/// arrays are plain zero-initialised allocations their owner frees.
///
///     var plan = BufferPlan<Role>()
///     plan.floats(.gates, count: steps * rows * gateWidth, copies: units)
///     let buffers = plan.allocate()
///     gates = buffers.floats(.gates)
///
/// Lookups by role happen once, in `init`; the workspace keeps what it took
/// in stored properties for the hot paths.
struct BufferPlan<Role: Hashable> {
    enum Element {
        case float, int32, bool

        var stride: Int {
            switch self {
            case .float: MemoryLayout<Float>.stride
            case .int32: MemoryLayout<Int32>.stride
            case .bool: MemoryLayout<Bool>.stride
            }
        }
    }

    struct Entry {
        let role: Role
        let element: Element
        /// Elements in each copy.
        let count: Int
        let copies: Int
    }

    private(set) var entries: [Entry] = []
    /// Floats and bytes of the parts other owners allocate from their own
    /// plans (a shard's recurrent stacks).
    private var partFloats = 0
    private var partBytes = 0

    init() {}

    /// `copies` aligned, zeroed float buffers of `count` floats each.
    mutating func floats(_ role: Role, count: Int, copies: Int = 1) {
        add(role, .float, count: count, copies: copies)
    }

    /// One array of `count` `Int32`s, zeroed.
    mutating func int32s(_ role: Role, count: Int) { add(role, .int32, count: count, copies: 1) }

    /// One array of `count` `Bool`s, all false.
    mutating func bools(_ role: Role, count: Int) { add(role, .bool, count: count, copies: 1) }

    /// Counts a part that its own owner allocates from `part`.
    mutating func include<Other>(_ part: BufferPlan<Other>) {
        partFloats += part.floatCount
        partBytes += part.byteCount
    }

    private mutating func add(_ role: Role, _ element: Element, count: Int, copies: Int) {
        precondition(!entries.contains { $0.role == role }, "buffer \(role) planned twice")
        entries.append(Entry(role: role, element: element, count: count, copies: copies))
    }

    /// Floats in the aligned buffers, included parts' too.
    var floatCount: Int {
        entries.reduce(partFloats) { $0 + ($1.element == .float ? $1.copies * $1.count : 0) }
    }

    /// Bytes of every buffer, included parts' too (not counting alignment padding).
    var byteCount: Int {
        entries.reduce(partBytes) { $0 + $1.copies * $1.count * $1.element.stride }
    }

    /// Allocates every entry, in plan order.
    func allocate() -> Buffers {
        var buffers = Buffers()
        for entry in entries {
            switch entry.element {
            case .float:
                buffers.floatBuffers[entry.role] = (0..<entry.copies).map { _ in AlignedBuffer(count: entry.count) }
            case .int32:
                let array = UnsafeMutablePointer<Int32>.allocate(capacity: entry.count)
                array.initialize(repeating: 0, count: entry.count)
                buffers.int32Arrays[entry.role] = array
            case .bool:
                let array = UnsafeMutablePointer<Bool>.allocate(capacity: entry.count)
                array.initialize(repeating: false, count: entry.count)
                buffers.boolArrays[entry.role] = array
            }
        }
        return buffers
    }

    /// What `allocate` made, by role. A role the plan left out reads as no buffers.
    struct Buffers {
        fileprivate var floatBuffers: [Role: [AlignedBuffer]] = [:]
        fileprivate var int32Arrays: [Role: UnsafeMutablePointer<Int32>] = [:]
        fileprivate var boolArrays: [Role: UnsafeMutablePointer<Bool>] = [:]

        /// Every copy of `role`; empty when it was not planned.
        func floats(_ role: Role) -> [AlignedBuffer] { floatBuffers[role] ?? [] }

        /// The one buffer of `role`.
        func float(_ role: Role) -> AlignedBuffer {
            let copies = floats(role)
            precondition(copies.count == 1, "buffer \(role) planned with \(copies.count) copies, not 1")
            return copies[0]
        }

        /// The buffer of `role`, or nil when it was not planned.
        func optionalFloat(_ role: Role) -> AlignedBuffer? {
            floatBuffers[role] == nil ? nil : float(role)
        }

        /// The two copies of `role`.
        func floatPair(_ role: Role) -> (AlignedBuffer, AlignedBuffer) {
            let copies = floats(role)
            precondition(copies.count == 2, "buffer \(role) planned with \(copies.count) copies, not 2")
            return (copies[0], copies[1])
        }

        /// The `Int32` array of `role`; its owner deallocates it.
        func int32s(_ role: Role) -> UnsafeMutablePointer<Int32> {
            guard let array = int32Arrays[role] else { preconditionFailure("no Int32 array \(role) planned") }
            return array
        }

        /// The `Bool` array of `role`; its owner deallocates it.
        func bools(_ role: Role) -> UnsafeMutablePointer<Bool> {
            guard let array = boolArrays[role] else { preconditionFailure("no Bool array \(role) planned") }
            return array
        }
    }
}
