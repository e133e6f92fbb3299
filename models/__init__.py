"""The domain: peewee models and the rules that belong to them (no Flask, no broker)."""
from models.api_tokens import ApiRequestCount, ApiToken, ApiUserRequestCount
from models.applications import Application
from models.base import db
from models.checklists import ChecklistItem
from models.day import DayAction
from models.documents import Document
from models.messages import CallLog, Contact, OutboundMessage
from models.events import Event
from models.inbound import InboundMail, Mailbox
from models.jobs import Job
from models.login_limits import KnownDevice, LoginFailure
from models.places import Ahj, Utility
from models.projects import Project
from models.sessions import WebSession
from models.sms import SmsMessage, SmsOptOut
from models.users import User
from models.webhooks import Webhook, WebhookDelivery

# Creation order: every model after the ones it references.
MODELS = [User, Utility, Ahj, Project, Application, Event, Job, ChecklistItem, DayAction, Document, Contact,
          OutboundMessage, CallLog, InboundMail, Mailbox, SmsOptOut, SmsMessage,
          ApiToken, ApiRequestCount, Webhook, WebhookDelivery, ApiUserRequestCount, WebSession, LoginFailure,
          KnownDevice]

__all__ = ["MODELS", "Ahj", "ApiRequestCount", "ApiToken", "ApiUserRequestCount", "Application", "CallLog", "ChecklistItem", "Contact", "DayAction", "Document", "OutboundMessage", "Event", "InboundMail", "Job", "KnownDevice", "LoginFailure", "Mailbox", "Project", "SmsMessage", "SmsOptOut", "User", "Utility", "WebSession", "Webhook", "WebhookDelivery", "db"]
