//! Integration tests of the GUI server: the security checks over plain
//! HTTP, and the pages end to end in Chromium over WebDriver.

mod browser;
mod deploy;
mod install;
mod security;
mod support;
