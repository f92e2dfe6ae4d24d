// The API's JSON as the pages read it (openapi.yaml is the contract; these name only the fields the UI shows).

export type Role = "super_admin" | "admin" | "operator" | "support" | "viewer" | "agent";

export interface Me {
  kind: string;
  id: string;
  customer_id: string;
  role: Role;
  name: string;
  permissions: string[];
}

export interface Session {
  token: string;
  expires_at: string;
  user: Me;
}

export interface Volume {
  mount_point: string;
  total_bytes: number;
  used_bytes: number;
  reported_at: string;
}

export interface Host {
  id: string;
  hostname: string;
  os: string;
  last_heartbeat_at?: string | null;
  last_scan_at?: string | null;
  file_count: number;
  total_bytes: number;
  agent_token_active: boolean;
  agent_state: "online" | "silent" | "never";
  agent_version?: string | null;
  volumes: Volume[];
}

export interface Rule {
  id?: string;
  name: string;
  priority: number;
  enabled?: boolean;
  target_id: string;
  path_globs?: string[];
  path_regex?: string | null;
  case_sensitive?: boolean;
  min_days_since_modified?: number | null;
  min_days_since_accessed?: number | null;
  min_size?: number | null;
  max_size?: number | null;
  include_extensions?: string[];
  exclude_extensions?: string[];
  candidate_order?: "coldest" | "largest";
  max_files_per_run?: number | null;
  max_bytes_per_run?: number | null;
  watermark?: { high_percent: number; low_percent: number } | null;
  version?: number;
}

export interface StorageTarget {
  id: string;
  name: string;
  kind: string;
  location: string;
  settings: Record<string, string>;
  secrets?: string[];
  bandwidth_bytes_per_second?: number | null;
  max_concurrency?: number | null;
}

export interface WhatIfRule {
  rule_id: string;
  name: string;
  priority: number;
  target_id: string;
  files_matched: number;
  bytes_matched: number;
  files_planned: number;
  bytes_planned: number;
  files_deferred: number;
  estimated_space_saved: number;
  estimated_transfer_seconds: number;
  top_directories: { path: string; bytes: number }[];
}

export interface WhatIf {
  dry_run: boolean;
  hosts: { host_id: string; files_evaluated: number; rules: WhatIfRule[] }[];
}

export interface RuleVerdict {
  rule_id: string;
  name: string;
  priority: number;
  outcome: "matched" | "failed" | "not_reached";
  failures: { criterion: string; reason: string }[];
}

export interface Explanation {
  file_path: string;
  matched_rule_id?: string | null;
  rules: RuleVerdict[];
}

export interface Job {
  id: string;
  kind: "tier" | "recall";
  host_id: string;
  hostname: string;
  rule_id?: string | null;
  rule_name?: string | null;
  target_id?: string | null;
  target_name?: string | null;
  state: string;
  state_reason?: string | null;
  file_count: number;
  total_bytes?: number | null;
  bytes_saved?: number | null;
  outcomes: Record<string, number>;
  requested_by?: string | null;
  created_at: string;
  dispatched_at?: string | null;
  finished_at?: string | null;
}

export interface JobFile {
  path: string;
  size?: number | null;
  state: string;
  reason?: string | null;
}

export interface JobDetail {
  job: Job;
  files: JobFile[];
  next_after?: string | null;
}

export interface SavingsDay {
  day: string;
  files_tiered: number;
  bytes_tiered: number;
  files_recalled: number;
  bytes_recalled: number;
  bytes_saved: number;
  bytes_saved_total: number;
}

export interface SavingsShare {
  id: string;
  name: string;
  files_tiered: number;
  bytes_tiered: number;
  bytes_saved: number;
}

export interface Savings {
  from: string;
  to: string;
  bytes_saved: number;
  files_tiered: number;
  bytes_tiered: number;
  files_recalled: number;
  bytes_recalled: number;
  days: SavingsDay[];
  hosts: SavingsShare[];
  targets: SavingsShare[];
}

export interface Bucket {
  key: string;
  files: number;
  bytes: number;
  stubbed_files: number;
  stubbed_bytes: number;
}

export interface Inventory {
  host_id: string;
  files: number;
  bytes: number;
  stubbed_files: number;
  stubbed_bytes: number;
  age: Bucket[];
  size: Bucket[];
  extensions: Bucket[];
  owners: Bucket[];
}

export interface Finding {
  id: number;
  kind: string;
  target_id: string;
  host_id?: string | null;
  file_path?: string | null;
  location: string;
  detail: string;
  state: string;
  first_seen: string;
  last_seen: string;
}

export interface AuditEntry {
  seq?: number | null;
  at: string;
  actor: string;
  action: string;
  target: string;
  result: string;
  details: Record<string, string>;
}

export interface User {
  id: string;
  email: string;
  display_name?: string | null;
  role: Role;
  disabled: boolean;
}

export interface APIToken {
  id: string;
  name: string;
  role: Role;
  token?: string;
  expires_at?: string | null;
  created_at?: string;
  last_used_at?: string | null;
  revoked_at?: string | null;
  created_by?: string;
}

export interface Customer {
  id: string;
  name: string;
}

export interface Notification {
  type: string;
  customer_id: string;
  payload: { event: string; job_id?: string | null; summary: string; counts: Record<string, number> };
}
