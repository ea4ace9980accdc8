// Why this file exists: the console's words in English and Portuguese (the seeds' users are
// Brazilian). The language comes from the `lang` cookie (set by the switch in the header), else from
// Accept-Language; anything unknown is English.
export type Lang = 'en' | 'pt';

const PT: Record<string, string> = {
  'Mailboxes': 'Caixas de correio',
  'Approvals': 'Aprovações',
  'Tickets': 'Chamados',
  'Webhooks and outbox': 'Webhooks e saída',
  'Configuration': 'Configuração',
  'Sign in': 'Entrar',
  'Sign out': 'Sair',
  'API token': 'Token da API',
  'Signed in as': 'Conectado como',
  'Invalid token.': 'Token inválido.',
  'Company': 'Empresa',
  'Companies': 'Empresas',
  'All companies': 'Todas as empresas',
  'Filter': 'Filtrar',
  'Mailbox': 'Caixa',
  'State': 'Estado',
  'Last success': 'Último sucesso',
  'Last error': 'Último erro',
  'Backlog': 'Pendentes',
  'Checkpoint': 'Ponto de controle',
  'Credentials': 'Credenciais',
  'Resume': 'Retomar',
  'Resumed.': 'Retomada.',
  'Subject': 'Assunto',
  'From': 'De',
  'Reason': 'Motivo',
  'Status': 'Situação',
  'Contract': 'Contrato',
  'Created': 'Criado',
  'Since': 'Desde',
  'Search': 'Buscar',
  'Approve': 'Aprovar',
  'Reject': 'Rejeitar',
  'Approved.': 'Aprovado.',
  'Rejected.': 'Rejeitado.',
  'Nothing is waiting for approval.': 'Nada aguarda aprovação.',
  'No tickets.': 'Nenhum chamado.',
  'Articles': 'Artigos',
  'Flags': 'Marcadores',
  'Attachments': 'Anexos',
  'Raw message': 'Mensagem original',
  'Text': 'Texto',
  'Message (sanitised HTML)': 'Mensagem (HTML higienizado)',
  'Next page': 'Próxima página',
  'Webhook': 'Webhook',
  'Pending': 'Pendentes',
  'Dead letters': 'Mensagens mortas',
  'Replay': 'Reenviar',
  'Replay all': 'Reenviar todas',
  'Replayed': 'Reenviadas',
  'Outbound messages': 'Mensagens de saída',
  'Attempts': 'Tentativas',
  'Only an admin token (companies ["*"]) sees webhooks.': 'Somente um token de administrador (companies ["*"]) vê os webhooks.',
  'Running configuration': 'Configuração em execução',
  'Files': 'Arquivos',
  'Last reload': 'Última recarga',
  'Problems': 'Problemas',
  'Explain': 'Explicar',
  'Workflow': 'Fluxo',
  'Ingested per minute (last hour)': 'Ingeridas por minuto (última hora)',
  'Sent per minute (last hour)': 'Enviadas por minuto (última hora)',
  'Errors per mailbox (last hour)': 'Erros por caixa (última hora)',
  'Not found.': 'Não encontrado.',
  'Your session expired: sign in again.': 'Sua sessão expirou: entre novamente.',
  'Are you sure?': 'Tem certeza?',
  'Error': 'Erro',
  'none': 'nenhum',
};

export function pickLang(cookie: string | undefined, acceptLanguage: string | undefined): Lang {
  if (cookie === 'pt' || cookie === 'en') return cookie;
  return /^\s*pt\b/i.test(acceptLanguage ?? '') ? 'pt' : 'en';
}

export type T = (s: string) => string;

export function translator(lang: Lang): T {
  return lang === 'pt' ? (s) => PT[s] ?? s : (s) => s;
}
