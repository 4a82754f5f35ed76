"""Which SQL functions a read may call: an allow-list of pure ones, and the side-effect names we name in reasons."""

from __future__ import annotations

# Functions sqlglot does not type (it parses them as `Anonymous`) that only compute a value from their inputs
# and the catalog. Any other untyped function may write, lock, sleep, read files or call out: never low.
_PURE_NAMES = """
abs acos age array_agg array_length array_lower array_position array_positions array_remove array_replace
array_to_json array_to_string array_upper ascii asin atan atan2 avg bin bit_and bit_count bit_length bit_or
bit_xor bool_and bool_or btrim cardinality cbrt ceil ceiling char char_length character_length chr
clock_timestamp coalesce col_description concat concat_ws conv convert_tz corr cos cot count covar_pop
covar_samp crc32 cume_dist curdate current_database current_date current_role current_schema
current_schemas current_setting current_time current_timestamp current_user curtime database date
date_add date_format date_part date_sub date_trunc datediff day dayname dayofmonth dayofweek dayofyear
decode degrees dense_rank div elt encode every exp extract field find_in_set first_value floor format
format_type found_rows from_base64 from_days from_unixtime generate_series get_format greatest
group_concat has_column_privilege has_database_privilege has_schema_privilege has_table_privilege hex
hour if ifnull inet_aton inet_ntoa initcap instr isfinite isnull json_agg json_array json_array_elements
json_array_elements_text json_array_length json_build_array json_build_object json_contains json_each
json_each_text json_extract json_extract_path json_extract_path_text json_keys json_length json_object
json_object_agg json_object_keys json_quote json_typeof json_unquote json_valid jsonb_agg
jsonb_array_elements jsonb_array_elements_text jsonb_array_length jsonb_build_array jsonb_build_object
jsonb_each jsonb_each_text jsonb_extract_path jsonb_extract_path_text jsonb_object_agg jsonb_object_keys
jsonb_pretty jsonb_set jsonb_strip_nulls jsonb_typeof justify_days justify_hours justify_interval lag
last_day last_value lcase lead least left length ln localtime localtimestamp locate log log10 log2 lower
lpad ltrim make_date make_interval make_time make_timestamp make_timestamptz max md5 microsecond min
minute mod mode month monthname now nth_value ntile nullif obj_description octet_length overlay
percent_rank percentile_cont percentile_disc pg_backend_pid pg_column_size pg_database_size
pg_get_constraintdef pg_get_expr pg_get_indexdef pg_get_viewdef pg_relation_size pg_size_pretty
pg_table_size pg_total_relation_size pg_typeof pi position pow power quarter quote_ident quote_literal
quote_nullable radians rank regexp_instr regexp_like regexp_match regexp_matches regexp_replace
regexp_split_to_array regexp_split_to_table regexp_substr repeat replace reverse right round row_number
row_to_json rpad rtrim sec_to_time second sha1 sha2 sign sin soundex space split_part sqrt
statement_timestamp stddev stddev_pop stddev_samp str_to_date strcmp string_agg string_to_array strpos
subdate substr substring substring_index sum sysdate tan time time_format time_to_sec timediff timeofday
timestamp timestampadd timestampdiff to_base64 to_char to_date to_days to_hex to_json to_jsonb to_number
to_seconds to_timestamp transaction_timestamp translate trim trunc truncate ucase unhex unix_timestamp
unnest upper utc_date utc_time utc_timestamp var_pop var_samp variance version week weekday weekofyear
width_bucket year yearweek
"""
PURE_FUNCTIONS = frozenset(_PURE_NAMES.split())

# Functions sqlglot does type but which are not pure reads (sequences, file and table readers).
IMPURE_TYPED = frozenset(
    {"next_value_for", "read_csv", "read_parquet", "read_json", "to_file", "seq1", "seq2", "seq4", "seq8"}
)

# Known to write, lock, sleep, reach files, programs or other servers, or end sessions. Named in the reason;
# anything not in PURE_FUNCTIONS is treated the same way, these just get a clearer one.
_SIDE_EFFECT_NAMES = """
benchmark cursor_to_xml dblink dblink_connect dblink_connect_u dblink_exec dblink_open dblink_send_query
get_lock load_file lo_create lo_export lo_from_bytea lo_import lo_put lo_unlink master_pos_wait nextval
pg_advisory_lock pg_advisory_lock_shared pg_advisory_unlock pg_advisory_unlock_all pg_advisory_xact_lock
pg_advisory_xact_lock_shared pg_cancel_backend pg_create_restore_point pg_file_write pg_logical_emit_message
pg_ls_dir pg_notify pg_read_binary_file pg_read_file pg_reload_conf pg_rotate_logfile pg_sleep pg_sleep_for
pg_sleep_until pg_stat_file pg_switch_wal pg_terminate_backend pg_try_advisory_lock
pg_try_advisory_lock_shared pg_try_advisory_xact_lock query_to_xml query_to_xml_and_xmlschema release_lock
release_all_locks set_config setval sleep sys_eval sys_exec txid_current
"""
SIDE_EFFECT_FUNCTIONS = frozenset(_SIDE_EFFECT_NAMES.split())

# Functions whose string argument is itself SQL run elsewhere: that SQL is classified too.
SQL_ARGUMENT_FUNCTIONS = frozenset(
    {"dblink", "dblink_exec", "dblink_send_query", "query_to_xml", "query_to_xml_and_xmlschema"}
)
