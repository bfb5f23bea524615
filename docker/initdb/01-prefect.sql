-- A second database on the same server for Prefect's own state.
CREATE DATABASE prefect OWNER rare;
