/// `[rows, width]` elements in row-major order, seen through a base address
/// the view does not own. The workspaces address their buffers through this
/// and `TimeMajor`, so that a row's offset is computed in one place rather
/// than spelled out at every use.
///
/// A view made with `init(reading:width:)` is of read-only memory (the
/// model's parameters) and is only read through.
struct RowMajor<Element> {
    let base: UnsafeMutablePointer<Element>
    /// Elements per row: the stride between rows.
    let width: Int

    @inline(__always)
    init(_ base: UnsafeMutablePointer<Element>, width: Int) {
        self.base = base
        self.width = width
    }

    @inline(__always)
    init(reading base: UnsafePointer<Element>, width: Int) {
        self.init(UnsafeMutablePointer(mutating: base), width: width)
    }

    /// Element `column` of row `row`: the start of the row by default.
    @inline(__always)
    func row(_ row: Int, column: Int = 0) -> UnsafeMutablePointer<Element> { base + row * width + column }

    /// The rows from `first` on.
    @inline(__always)
    func rows(from first: Int) -> RowMajor { RowMajor(base + first * width, width: width) }

    /// The columns from `first` on, with the same row stride.
    @inline(__always)
    func columns(from first: Int) -> RowMajor { RowMajor(base + first, width: width) }
}
