-- Runs once, as the postgres superuser, when the compose volume is empty
-- (/docker-entrypoint-initdb.d). It creates the three roles of ARCHITECTURE.md and the
-- database; `mercato migrate up` (as mercato_owner) creates the schema and grants the rest.
-- The passwords are for local compose only and must match the URLs in docker-compose.yml.

-- Owns the schema and runs migrations.
CREATE ROLE mercato_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD 'mercato_owner_dev';

-- What API and workers connect as: row-level security applies to it, it owns nothing.
CREATE ROLE mercato_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD 'mercato_app_dev';

-- The narrow, audited cross-tenant entry point (platform/db).
CREATE ROLE mercato_platform LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE BYPASSRLS PASSWORD 'mercato_platform_dev';

CREATE DATABASE mercato OWNER mercato_owner;

REVOKE ALL ON DATABASE mercato FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE mercato TO mercato_app, mercato_platform;

\connect mercato

-- On PostgreSQL 15 the public schema belongs to the database owner (mercato_owner);
-- nobody else may create objects in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mercato_app, mercato_platform;
