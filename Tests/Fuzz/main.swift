// rnnkit-fuzz: the readers' fuzz harness (see Tests/fuzz.sh).
//
//     rnnkit-fuzz <reader> FILE-OR-FOLDER...    replays inputs, one file each
//     rnnkit-fuzz <reader> [libFuzzer options] CORPUS...
//                                               built with -DFUZZING: fuzzes
//
// <reader> is safetensors, ts, csv or text.
import Foundation

let usage = "usage: rnnkit-fuzz <\(Reader.allCases.map(\.rawValue).joined(separator: "|"))> FILE-OR-FOLDER..."
guard CommandLine.arguments.count >= 2, let reader = Reader(rawValue: CommandLine.arguments[1]) else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
selectedReader = reader

#if FUZZING
    runFuzzer()
#else
    var replayed = 0
    for argument in CommandLine.arguments.dropFirst(2) {
        let url = URL(fileURLWithPath: argument)
        let files =
            (try? FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil))?
            .map(\.path).sorted() ?? [argument]
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("rnnkit-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            reader.read([UInt8](data))
            replayed += 1
        }
    }
    print("rnnkit-fuzz: \(reader.rawValue) reader: \(replayed) inputs replayed")
#endif
