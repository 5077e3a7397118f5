"""A new hash of the same password keeps the user's API tokens.

Django rehashes a password at a successful login when its stored hash uses a
hasher or a work factor no longer preferred (after a Django upgrade raises the
PBKDF2 iterations, say): the trigger of migration 0002 saw a new hash and deleted
every token of the account, so the first login after an upgrade ended each
user's scripts' tokens although the password was the same. The login
(organizations.backends.ModelBackend.authenticate) now marks its transaction with
the setting ``intercalaire.password_rehash``, and the trigger keeps the tokens
under that mark; any other change of the hash still deletes them.
"""

from django.db import migrations

from config.database.functions import execute_in_schema

KEEP_ON_REHASH = """
CREATE OR REPLACE FUNCTION intercalaire_tokens_end_with_the_password() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('intercalaire.password_rehash', true) = 'on' THEN
        RETURN NULL;
    END IF;
    DELETE FROM knox_authtoken WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
"""

ALWAYS = """
CREATE OR REPLACE FUNCTION intercalaire_tokens_end_with_the_password() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM knox_authtoken WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;
"""


def keep_on_rehash(apps, schema_editor):
    execute_in_schema(schema_editor, KEEP_ON_REHASH)


def always(apps, schema_editor):
    execute_in_schema(schema_editor, ALWAYS)


class Migration(migrations.Migration):
    dependencies = [("organizations", "0002_tokens_end_with_the_password")]

    operations = [migrations.RunPython(keep_on_rehash, always)]
