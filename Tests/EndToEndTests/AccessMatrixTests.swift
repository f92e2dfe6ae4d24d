import AltoModels
import AltoTestSupport
import Foundation
import Testing

/// Every route × every role × the caller's own tenant and another tenant, against the running API. What each cell
/// must answer comes from `AccessPolicy`, the table the API enforces: a role without the route's permission gets
/// 403 whatever the ids; with it, its own tenant's objects answer 2xx and another tenant's 404, the same 404 as
/// ids that exist nowhere, so nothing of another tenant is reached or revealed.
@Suite(.timeLimit(.minutes(5))) struct AccessMatrixTests {
    @Test func everyRouteEveryRoleOwnAndOtherTenant() async throws {
        let suite = try await RunningSuite(["alto-api", "alto-ingest"])
        try await suite.whileRunning {
            let world = try await AccessWorld(suite)
            var failures: [String] = []
            var cells = 0
            var answered: [String: Int] = [:]
            for (route, requirement) in AccessPolicy.routes.sorted(by: { $0.key.description < $1.key.description }) {
                for role in Role.allCases {
                    for side in [AccessWorld.Side.own, .other] {
                        cells += 1
                        let request = try await world.request(route, side: side)
                        let (status, body) = try await world.send(request, as: role)
                        let expected = Self.expectation(requirement, role: role, side: side)
                        answered[expected.description, default: 0] += 1
                        if !expected.accepts(status) {
                            failures.append("\(route) as \(role.rawValue), \(side): \(status) \(body.prefix(200)); expected \(expected)")
                        }
                        // Another tenant's ids must answer exactly as ids nobody has.
                        if side == .other, status == 404 {
                            let unknown = try await world.request(route, side: .nowhere)
                            let (unknownStatus, unknownBody) = try await world.send(unknown, as: role)
                            if unknownStatus != status || Self.code(unknownBody) != Self.code(body) {
                                failures.append("\(route) as \(role.rawValue): another tenant's ids answer \(status) \(Self.code(body) ?? ""), unknown ids \(unknownStatus) \(Self.code(unknownBody) ?? "")")
                            }
                        }
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures.count) of \(cells) cells:\n\(failures.joined(separator: "\n"))")
            #expect(cells == AccessPolicy.routes.count * Role.allCases.count * 2)
            #expect(answered["2xx", default: 0] > 100 && answered["403", default: 0] > 100 && answered["404", default: 0] > 50,
                    "the matrix exercises allowed, forbidden and cross-tenant cells: \(answered)")
            print("access matrix: \(cells) cells, expected \(answered.sorted { $0.key < $1.key })")
        }
    }

    /// The routes the API builds are exactly the routes the table names: none is served without an entry.
    @Test func theRouterServesExactlyTheRoutesOfThePermissionTable() throws {
        let (status, output) = try ServiceProcess.run("alto-api", arguments: ["routes"], environment: [:])
        #expect(status == 0, "\(output)")
        let served = Set(output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("/") == false && $0.contains(" /") })
        let table = Set(AccessPolicy.routes.keys.map(\.description))
        #expect(served == table, "served but not in the table: \(served.subtracting(table).sorted()); in the table but not served: \(table.subtracting(served).sorted())")
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
