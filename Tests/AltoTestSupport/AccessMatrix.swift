import AltoModels
import Foundation

/// Every route × every role × the caller's own tenant and another tenant. What each cell must answer comes from
/// `AccessPolicy`, the table the API enforces: a role without the route's permission gets 403 whatever the ids;
/// with it, its own tenant's objects answer 2xx and another tenant's 404, the same 404 as ids that exist nowhere,
/// so nothing of another tenant is reached or revealed.
public enum AccessMatrix {
    public struct Report: Sendable {
        /// One line for each cell that answered what the table does not allow.
        public var failures: [String] = []
        public var cells = 0
        /// How many cells expected each kind of answer.
        public var expected: [String: Int] = [:]

        /// Why the matrix would prove too little: cells missing, or too few cells that must be allowed, forbidden or
        /// hidden for the check to mean anything.
        public var gaps: [String] {
            var gaps: [String] = []
            let all = AccessPolicy.routes.count * Role.allCases.count * 2
            if cells != all { gaps.append("\(cells) cells asked, not \(all)") }
            for (kind, least) in [("2xx", 100), ("403", 100), ("404", 50)] where expected[kind, default: 0] <= least {
                gaps.append("only \(expected[kind, default: 0]) cells expect \(kind)")
            }
            return gaps
        }

        public var summary: String {
            "\(cells) cells, expected " + expected.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
    }

    enum Expectation: CustomStringConvertible {
        case success, forbidden, notFound, notRefused

        func accepts(_ status: Int) -> Bool {
            switch self {
            case .success: (200..<300).contains(status)
            case .forbidden: status == 403
            case .notFound: status == 404
            case .notRefused: status != 401 && status != 403 && status < 500
            }
        }

        var description: String {
            switch self {
            case .success: "2xx"
            case .forbidden: "403"
            case .notFound: "404"
            case .notRefused: "neither 401 nor 403 nor 5xx"
            }
        }
    }

    /// Asks every cell of `world` and says which answered wrongly.
    public static func check(_ world: AccessWorld) async throws -> Report {
        var report = Report()
        for (route, requirement) in AccessPolicy.routes.sorted(by: { $0.key.description < $1.key.description }) {
            for role in Role.allCases {
                for side in [AccessWorld.Side.own, .other] {
                    report.cells += 1
                    let request = try await world.request(route, side: side)
                    let (status, body) = try await world.send(request, as: role)
                    let expected = expectation(requirement, role: role, side: side)
                    report.expected[expected.description, default: 0] += 1
                    if !expected.accepts(status) {
                        report.failures.append("\(route) as \(role.rawValue), \(side): \(status) \(body.prefix(200)); expected \(expected)")
                    }
                    // Another tenant's ids must answer exactly as ids nobody has.
                    if side == .other, status == 404 {
                        let (unknownStatus, unknownBody) = try await world.send(try await world.request(route, side: .nowhere), as: role)
                        if unknownStatus != status || code(unknownBody) != code(body) {
                            report.failures.append("\(route) as \(role.rawValue): another tenant's ids answer \(status) \(code(body) ?? ""), "
                                                   + "unknown ids \(unknownStatus) \(code(unknownBody) ?? "")")
                        }
                    }
                }
            }
        }
        return report
    }

    static func expectation(_ requirement: AccessPolicy.Requirement, role: Role, side: AccessWorld.Side) -> Expectation {
        guard case .permission(let permission) = requirement else { return .notRefused }
        guard AccessPolicy.allows(role, permission) else { return .forbidden }
        // A super admin acts for whichever tenant it names; every other caller lives in one.
        if role == .superAdmin || side == .own { return .success }
        return .notFound
    }

    static func code(_ body: String) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]).flatMap { ($0["error"] as? [String: Any])?["code"] as? String }
    }
}
