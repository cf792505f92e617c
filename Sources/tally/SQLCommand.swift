import ArgumentParser
import DeidSQL
import Foundation

struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Check and format de-identified SQL.",
        subcommands: [Check.self, Format.self]
    )

    static func read(_ path: String) throws -> String {
        if path == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        guard let d = FileManager.default.contents(atPath: path) else { throw fail("cannot read \(path)") }
        return String(decoding: d, as: UTF8.self)
    }

    /// --valuesets, $TALLY_VALUESETS, ./Queries/valuesets, or the checkout the binary was built in.
    static func valueSetDirectory(_ option: String?) -> String? {
        var candidates: [String] = []
        if let option { candidates.append(option) }
        if let env = ProcessInfo.processInfo.environment["TALLY_VALUESETS"] { candidates.append(env) }
        candidates.append(FileManager.default.currentDirectoryPath + "/Queries/valuesets")
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../../Queries/valuesets").standardized.path)
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../Queries/valuesets").standardized.path)
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a query: exit 0 and print the normalised SQL, the rewritten SQL and the merge plan; or exit 2 with `error[RULE]: line L, column C: message`."
        )
        @Argument(help: "SQL file, or - for standard input.") var file: String
        @Option(help: "Directory of value sets (default: Queries/valuesets).") var valuesets: String?
        @Flag(help: "Allow MIN and MAX (only where the policy does).") var allowMinMax = false
        @Option(help: "Declare a parameter (name:type); when given, undeclared parameters are refused.") var param: [String] = []

        func run() throws {
            let sql = try SQLCommand.read(file)
            var checker = QueryChecker()
            if let dir = SQLCommand.valueSetDirectory(valuesets) {
                do { checker.valueSets = try QueryChecker.loadValueSets(directory: dir) } catch { throw fail("value sets in \(dir): \(error)") }
            }
            checker.allowances.minMax = allowMinMax
            if !param.isEmpty {
                checker.allowances.parameters = Dictionary(param.map { p in
                    let parts = p.split(separator: ":", maxSplits: 1).map(String.init)
                    return (parts[0].hasPrefix(":") ? String(parts[0].dropFirst()) : parts[0], parts.count > 1 ? parts[1] : "text")
                }, uniquingKeysWith: { a, _ in a })
            }
            do {
                print(QueryChecker.report(try checker.check(sql)), terminator: "")
            } catch {
                print(error.description)
                throw ExitCode(2)
            }
        }
    }

    struct Format: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Parse any SQLite SELECT and print it normalised (exit 2 with a positioned error if it is not valid SQL).")
        @Argument(help: "SQL file, or - for standard input.") var file: String
        @Flag(help: "Print on one line.") var oneLine = false

        func run() throws {
            let sql = try SQLCommand.read(file)
            do {
                print(Printer.sql(try Parser.parse(sql), multiline: !oneLine))
            } catch {
                print(error.description)
                throw ExitCode(2)
            }
        }
    }
}
