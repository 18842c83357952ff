DROP TABLE staff_password_tokens;
