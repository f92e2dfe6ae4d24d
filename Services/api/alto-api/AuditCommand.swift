import AltoAPI
import AltoCentral
import AltoModels
import ArgumentParser
import Foundation

/// `alto-api audit verify` and `alto-api audit export`: the audit trail checked link by link with the chain's key,
/// and written out as JSON lines or as RFC 5424 syslog messages to a SIEM.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Verify or export the audit trail.",
        subcommands: [Verify.self, Export.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Walk every tenant's hash chain; exit 1 when a row was changed, removed or inserted.",
            discussion: "Needs ALTO_AUDIT_KEY, the key the services chain with. Prints a JSON report with each chain's last row: keep it, so rows cut from a chain's end can be noticed next time.")

        @Option(name: .customLong("customer"), help: "Only this tenant's chain.")
        var customerID: String?

        func validate() throws {
            if let customerID, UUID(uuidString: customerID) == nil { throw ValidationError("--customer must be a UUID") }
        }

        func run() async throws {
            let settings = try APICommand.settings()
            let report = try await APICommands.verifyAudit(settings: settings, customerID: customerID.flatMap(UUID.init(uuidString:)))
            let encoder = AltoJSON.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            if !report.isIntact { throw ExitCode(1) }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write audit rows as JSON lines to standard output, or as RFC 5424 syslog messages to a collector.")

        @Option(help: "jsonl or syslog.")
        var format = "jsonl"

        @Option(help: "The syslog collector, udp://host:port or tcp://host:port (RFC 6587 octet counting).")
        var syslog: String?

        @Option(name: .customLong("customer"), help: "Only this tenant's rows.")
        var customerID: String?

        @Option(help: "Only rows after this id (what the previous export printed last).")
        var after: Int64 = 0

        func validate() throws {
            guard ["jsonl", "syslog"].contains(format) else { throw ValidationError("--format must be jsonl or syslog") }
            if format == "syslog", syslog == nil { throw ValidationError("--format syslog needs --syslog udp://host:port or tcp://host:port") }
            if let customerID, UUID(uuidString: customerID) == nil { throw ValidationError("--customer must be a UUID") }
        }

        func run() async throws {
            let settings = try APICommand.settings()
            try await APICommands.exportAudit(settings: settings, customerID: customerID.flatMap(UUID.init(uuidString:)), after: after,
                                              syslog: format == "syslog" ? syslog : nil)
        }
    }
}
