#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| standin_fuzz::storware_login(data));
