"""WTForms for the console's HTML forms (CSRF comes from CSRFProtect on the blueprint)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from models.user import USER_ROLES


class SignInForm(FlaskForm):
    """Tenant, e-mail and password."""

    tenant = StringField("Tenant", validators=[DataRequired(), Length(max=100)])
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class NewUserForm(FlaskForm):
    """An admin creating a user of their own tenant."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    role = SelectField("Role", choices=[SelectChoice(r) for r in USER_ROLES])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=1024)])
