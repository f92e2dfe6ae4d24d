import AltoTestSupport
import Foundation
import PostgresNIO
import Testing

/// What the web UI's pages read, through the router over a real PostgreSQL: a rule's what-if that saves nothing,
/// the savings series over a period, a host's inventory by age, size, extension and owner, and the jobs list a
/// page at a time.
@Suite(.timeLimit(.minutes(3))) struct AnalyticsRouterTests {
    struct Tenant {
        var headers: [String: String]
        var customer: String
        var host: String
        var target: String
    }

    static func json(_ object: [String: any Sendable]) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
    static func answer(_ text: String) -> [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:] }

    static func tenant(_ api: InProcessAPI.Client, _ backends: TestBackends) async throws -> Tenant {
        let admin = ["Authorization": "Bearer \(TestBackends.adminToken)", "Content-Type": "application/json"]
        let (_, customer) = try await api.request("POST", "/api/v1/customers", body: try json(["name": "ui \(backends.run)"]), headers: admin)
        let customerID = answer(customer)["id"] as? String ?? ""
        let (_, host) = try await api.request("POST", "/api/v1/customers/\(customerID)/hosts", body: try json(["hostname": "fs"]), headers: admin)
        let headers = admin.merging(["X-Alto-Customer-Id": customerID]) { _, new in new }
        let (_, target) = try await api.request("POST", "/api/v1/storage-targets", body: try json([
            "name": "tier2", "kind": "filesystem", "location": "/srv/tier2"]), headers: headers)
        return Tenant(headers: headers, customer: customerID, host: answer(host)["id"] as? String ?? "", target: answer(target)["id"] as? String ?? "")
    }

    /// Files of the host: (path, size, days since modified, extension, owner).
    static func inventory(_ tenant: Tenant, _ files: [(String, Int64, Int, String, String)], _ backends: TestBackends) async throws {
        try await TestServers.withPostgres(backends.databaseURL) { postgres in
            try await postgres.query("SELECT inventory.ensure_partition(\(tenant.customer)::uuid, \(tenant.host)::uuid)", logger: TestServers.logger)
            for (path, size, days, fileExtension, owner) in files {
                try await postgres.query("""
                    INSERT INTO file_inventory (customer_id, host_id, file_path, file_size, last_modified, file_extension, owner)
                    VALUES (\(tenant.customer)::uuid, \(tenant.host)::uuid, \(path), \(size), now() - make_interval(days => \(days)::int),
                            \(fileExtension), \(owner))
                    """, logger: TestServers.logger)
            }
        }
    }

    @Test func aRulesWhatIfSavesNothingAndAMisspeltDryRunIsRefused() async throws {
        try await InProcessAPI.run { api, backends in
            let tenant = try await Self.tenant(api, backends)
            try await Self.inventory(tenant, [("/srv/old/a.pdf", 1 << 20, 400, "pdf", "ann"), ("/srv/old/b.iso", 4 << 20, 900, "iso", "bob"),
                                              ("/srv/new/c.pdf", 2 << 20, 3, "pdf", "ann")], backends)
            let rule: [String: any Sendable] = ["name": "cold", "priority": 10, "target_id": tenant.target, "min_days_since_modified": 180]
            let (status, text) = try await api.request("POST", "/api/v1/rules?dry_run=true", body: try Self.json(rule), headers: tenant.headers)
            #expect(status == 200, "\(text)")
            let rehearsal = Self.answer(text)
            let ruleID = (rehearsal["rule"] as? [String: Any])?["id"] as? String
            let hosts = (rehearsal["what_if"] as? [String: Any])?["hosts"] as? [[String: Any]] ?? []
            let line = (hosts.first?["rules"] as? [[String: Any]])?.first { $0["rule_id"] as? String == ruleID }
            #expect(line?["files_planned"] as? Int == 2 && line?["bytes_planned"] as? Int == 5 << 20, "\(hosts)")

            let (invalid, _) = try await api.request("POST", "/api/v1/rules?dry_run=true", body: try Self.json(rule.merging(["priority": -1]) { _, new in new }),
                                                     headers: tenant.headers)
            #expect(invalid == 400)
            let (_, listed) = try await api.request("GET", "/api/v1/rules", body: nil, headers: tenant.headers)
            #expect((Self.answer(listed)["rules"] as? [Any])?.isEmpty == true, "a what-if saves no rule: \(listed)")
            let audited = try await TestServers.withPostgres(backends.databaseURL) { postgres in
                try await RunningSuite.count(postgres, "SELECT count(*) FROM audit_log WHERE customer_id = '\(tenant.customer)' AND action LIKE '%rule%'")
            }
            #expect(audited == 0, "a what-if, good or bad, leaves nothing in the audit trail")
            // A misspelt what-if is refused, never taken for a change.
            let (misspelt, misspeltText) = try await api.request("POST", "/api/v1/rules?dry_run=yes", body: try Self.json(rule), headers: tenant.headers)
            #expect(misspelt == 400 && (Self.answer(misspeltText)["error"] as? [String: Any])?["field"] as? String == "dry_run", "\(misspeltText)")
            let (_, stillNone) = try await api.request("GET", "/api/v1/rules", body: nil, headers: tenant.headers)
            #expect((Self.answer(stillNone)["rules"] as? [Any])?.isEmpty == true)

            let (created, createdText) = try await api.request("POST", "/api/v1/rules", body: try Self.json(rule), headers: tenant.headers)
            #expect(created == 201, "\(createdText)")
            let stored = Self.answer(createdText)
            let id = stored["id"] as? String ?? ""
            let (changed, changedText) = try await api.request("PUT", "/api/v1/rules/\(id)?dry_run=true",
                                                               body: try Self.json(rule.merging(["min_days_since_modified": 600]) { _, new in new }),
                                                               headers: tenant.headers)
            let changedHosts = (Self.answer(changedText)["what_if"] as? [String: Any])?["hosts"] as? [[String: Any]] ?? []
            #expect(changed == 200 && (changedHosts.first?["rules"] as? [[String: Any]])?.first?["files_planned"] as? Int == 1, "\(changedText)")
            let (_, after) = try await api.request("GET", "/api/v1/rules/\(id)", body: nil, headers: tenant.headers)
            #expect(Self.answer(after)["min_days_since_modified"] as? Int == 180 && Self.answer(after)["version"] as? Int == stored["version"] as? Int,
                    "the rule as saved, untouched by the what-if of its change: \(after)")
        }
    }

    @Test func theSavingsOfAPeriodAndTheInventoryByAgeSizeExtensionAndOwner() async throws {
        try await InProcessAPI.run { api, backends in
            let tenant = try await Self.tenant(api, backends)
            try await TestServers.withPostgres(backends.databaseURL) { postgres in
                for (daysAgo, tiered, recalled, saved) in [(40, 100, 0, 90), (5, 50, 0, 40), (0, 0, 10, -9)] {
                    try await postgres.query("""
                        INSERT INTO savings_daily (customer_id, day, host_id, target_id, files_tiered, bytes_tiered, files_recalled,
                                                   bytes_recalled, bytes_saved)
                        VALUES (\(tenant.customer)::uuid, (now() AT TIME ZONE 'UTC')::date - \(daysAgo)::int, \(tenant.host)::uuid,
                                \(tenant.target)::uuid, \(tiered > 0 ? 1 : 0), \(tiered), \(recalled > 0 ? 1 : 0), \(recalled), \(saved))
                        """, logger: TestServers.logger)
                }
            }
            let (status, text) = try await api.request("GET", "/api/v1/analytics/savings", body: nil, headers: tenant.headers)
            #expect(status == 200, "\(text)")
            let savings = Self.answer(text)
            #expect(savings["bytes_saved"] as? Int == 121, "saved at the period's end counts the days before it")
            #expect(savings["bytes_tiered"] as? Int == 50 && savings["bytes_recalled"] as? Int == 10, "tiered and recalled in the period only")
            let days = savings["days"] as? [[String: Any]] ?? []
            #expect(days.count == 31 && days.first?["bytes_saved_total"] as? Int == 90 && days.last?["bytes_saved_total"] as? Int == 121)
            let host = (savings["hosts"] as? [[String: Any]])?.first
            #expect(host?["bytes_saved"] as? Int == 121 && host?["bytes_tiered"] as? Int == 50, "\(host ?? [:])")
            let (backwards, _) = try await api.request("GET", "/api/v1/analytics/savings?from=2026-02-01&to=2026-01-01", body: nil,
                                                       headers: tenant.headers)
            #expect(backwards == 400)

            try await Self.inventory(tenant, [("/srv/a.pdf", 1000, 10, "pdf", "ann"), ("/srv/b.pdf", 100_000, 100, "pdf", "bob"),
                                              ("/srv/Makefile", 5_000_000, 1000, "", "ann")], backends)
            let (_, inventoryText) = try await api.request("GET", "/api/v1/analytics/inventory?host_id=\(tenant.host)", body: nil,
                                                           headers: tenant.headers)
            let inventory = Self.answer(inventoryText)
            func buckets(_ name: String) -> [String: Int] {
                Dictionary(uniqueKeysWithValues: (inventory[name] as? [[String: Any]] ?? []).map { ($0["key"] as? String ?? "", $0["files"] as? Int ?? -1) })
            }
            #expect(inventory["files"] as? Int == 3 && inventory["bytes"] as? Int == 5_101_000, "\(inventoryText)")
            #expect(buckets("age") == ["0-30 days": 1, "30-90 days": 0, "90-180 days": 1, "180-365 days": 0, "1-2 years": 0, "2-5 years": 1,
                                       "over 5 years": 0])
            #expect(buckets("size")["under 4 KiB"] == 1 && buckets("size")["64 KiB-1 MiB"] == 1 && buckets("size")["1-16 MiB"] == 1)
            #expect(buckets("extensions") == ["pdf": 2, "(none)": 1])
            #expect(buckets("owners") == ["ann": 2, "bob": 1])
            let (missing, _) = try await api.request("GET", "/api/v1/analytics/inventory?host_id=\(UUID())", body: nil, headers: tenant.headers)
            #expect(missing == 404)
        }
    }

    @Test func jobsMadeAtOneInstantArePagedWithoutASkipOrARepeat() async throws {
        try await InProcessAPI.run { api, backends in
            let tenant = try await Self.tenant(api, backends)
            let (_, ruleText) = try await api.request("POST", "/api/v1/rules", body: try Self.json(["name": "r", "priority": 1, "target_id": tenant.target]),
                                                      headers: tenant.headers)
            let rule = Self.answer(ruleText)["id"] as? String ?? ""
            _ = try await TestServers.withPostgres(backends.databaseURL) { postgres in
                try await postgres.query("""
                    INSERT INTO tiering_jobs (id, customer_id, host_id, rule_id, target_id, priority, state, file_count, total_bytes,
                                              estimated_space_saved, estimated_duration_seconds, created_at)
                    SELECT gen_random_uuid(), \(tenant.customer)::uuid, \(tenant.host)::uuid, \(rule)::uuid, \(tenant.target)::uuid, 1, 'queued',
                           0, 0, 0, 0, '2026-11-30T12:00:00Z'
                    FROM generate_series(1, 5)
                    """, logger: TestServers.logger)
            }
            var seen: [String] = []
            var query = "limit=2"
            for _ in 0..<4 {
                let (status, text) = try await api.request("GET", "/api/v1/jobs?\(query)", body: nil, headers: tenant.headers)
                #expect(status == 200, "\(text)")
                let page = Self.answer(text)["jobs"] as? [[String: Any]] ?? []
                guard let last = page.last else { break }
                seen += page.compactMap { $0["id"] as? String }
                let at = (last["created_at"] as? String ?? "").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                query = "limit=2&before=\(at)&before_id=\(last["id"] as? String ?? "")"
            }
            #expect(seen.count == 5 && Set(seen).count == 5, "every job once: \(seen)")
        }
    }
}
