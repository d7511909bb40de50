/// `[steps, rows, width]` elements, time-major: step `t` is one contiguous
/// `[rows, width]` block, and position `t * rows + r` is row `r` of step `t`.
/// `rows` is the shard's actual row count, not its capacity.
///
/// The workspaces' activations have this shape by time step, their hidden
/// and cell states by state slot, and the states handed between stacks by
/// unit (`[units, rows, hidden]`).
struct TimeMajor<Element> {
    /// Every position as a row.
    let positions: RowMajor<Element>
    let rows: Int

    @inline(__always)
    init(_ base: UnsafeMutablePointer<Element>, rows: Int, width: Int) {
        positions = RowMajor(base, width: width)
        self.rows = rows
    }

    @inline(__always)
    init(reading base: UnsafePointer<Element>, rows: Int, width: Int) {
        self.init(UnsafeMutablePointer(mutating: base), rows: rows, width: width)
    }

    var base: UnsafeMutablePointer<Element> { positions.base }
    var width: Int { positions.width }
    /// Elements per step.
    var stepSize: Int { rows * positions.width }

    /// Element `column` of row `row` at step `step`: the step's first row by default.
    @inline(__always)
    func at(_ step: Int, row: Int = 0, column: Int = 0) -> UnsafeMutablePointer<Element> {
        positions.row(step * rows + row, column: column)
    }

    /// Position `position` (`step * rows + row`).
    @inline(__always)
    func position(_ position: Int) -> UnsafeMutablePointer<Element> { positions.row(position) }

    /// Rows `first...` of every step: the same strides, for a block of rows.
    @inline(__always)
    func rows(from first: Int) -> TimeMajor {
        TimeMajor(positions.row(first), rows: rows, width: positions.width)
    }
}
